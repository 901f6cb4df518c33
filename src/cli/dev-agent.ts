import { flagValue, parseCommandArgs } from './args.js';
import { defineCommand, type Args, type Flags } from './command.js';
import { formatDuration, parseDuration } from '../config/duration.js';
import { ExitCode } from '../errors.js';
import type { Logger } from '../log.js';
import { SpiffeId, TrustDomain } from '../spiffe/id.js';
import { startDevAgent, type DevAgentOptions, type DevIdentity } from '../dev/agent.js';
import { keyTypes, type KeyType } from '../dev/ca.js';
import type { JwtAlg } from '../dev/jwt-issuer.js';

const DEFAULT_SOCKET = '/tmp/spiffe-helper-dev/agent.sock';
const jwtAlgs: readonly JwtAlg[] = ['ES256', 'RS256'];

const devAgentFlags = {
  socket: { type: 'string', value: 'PATH', doc: `Unix socket to listen on (default ${DEFAULT_SOCKET})` },
  'trust-domain': { type: 'string', value: 'TD', doc: 'trust domain (default: that of the first --spiffe-id, else example.org)' },
  'spiffe-id': {
    type: 'string',
    multiple: true,
    value: 'ID[#HINT]',
    doc: 'identity to issue, with an optional hint; repeatable (default spiffe://<trust domain>/workload)',
  },
  ttl: { type: 'string', value: 'DURATION', doc: 'X.509-SVID lifetime, rotated at half of it (default 60s; e.g. 30s, 2m)' },
  intermediate: { type: 'boolean', doc: 'sign SVIDs with an intermediate CA (chains of two certificates)' },
  federate: { type: 'string', multiple: true, value: 'TD', doc: 'also serve a bundle for this federated trust domain; repeatable' },
  'key-type': { type: 'string', value: 'TYPE', choices: keyTypes, doc: `${keyTypes.join(', ')} (default ec-p256)` },
  'jwt-ttl': { type: 'string', value: 'DURATION', doc: 'JWT-SVID lifetime (default 300s)' },
  'jwt-alg': { type: 'string', value: 'ALG', choices: jwtAlgs, doc: `${jwtAlgs.join(', ')} (default ES256)` },
} as const satisfies Flags;

/** `spiffe-helper dev-agent`: runs the development Workload API agent until told to stop. */
export const devAgentCommand = defineCommand({
  about: `Serves the SPIFFE Workload API on a Unix socket from an in-memory CA, for development and tests. Not for production: keys are generated at start and never leave memory.

Point the helper at it with: agent_address = "unix://<PATH>"`,
  flags: devAgentFlags,
  exitCodes: [
    ['ok', 'stopped by SIGINT or SIGTERM'],
    ['usage', 'usage'],
  ],
  stopsItself: true,
  run: (args, ctx) => serveDevAgent(devAgentOptions(args), ctx.log, ctx.signals.signal),
});

/** Runs the dev agent until `signal` aborts. */
export async function serveDevAgent(options: ParsedOptions, log: Logger, signal: AbortSignal): Promise<number> {
  const agent = await startDevAgent({ ...options, log });
  log.info('dev agent listening', {
    socket: agent.socketPath,
    address: agent.address,
    trust_domain: options.trustDomain,
    spiffe_ids: options.identities.map((i) => i.spiffeId).join(','),
    svid_ttl: formatDuration(options.svidTtlSeconds * 1000),
  });
  if (!signal.aborted) await new Promise((stop) => signal.addEventListener('abort', stop, { once: true }));
  await agent.close();
  log.info('dev agent stopped', { socket: agent.socketPath });
  return ExitCode.ok;
}

type ParsedOptions = DevAgentOptions & { trustDomain: string; identities: DevIdentity[]; svidTtlSeconds: number };

/** Exported for tests: the options the dev agent would start with. */
export function parseDevAgentArgs(argv: string[]): ParsedOptions | 'help' {
  const args = parseCommandArgs('dev-agent', devAgentCommand, argv);
  return args === 'help' ? 'help' : devAgentOptions(args);
}

function devAgentOptions({ values }: Args<typeof devAgentFlags>): ParsedOptions {
  const identities = (values['spiffe-id'] ?? []).map((text) => flagValue('dev-agent', '--spiffe-id', text, parseIdentity));
  const trustDomain = values['trust-domain'] === undefined ? defaultTrustDomain(identities) : flagValue('dev-agent', '--trust-domain', values['trust-domain'], trustDomainName);
  return {
    socketPath: values.socket ?? DEFAULT_SOCKET,
    trustDomain,
    identities: identities.length > 0 ? identities : [{ spiffeId: `spiffe://${trustDomain}/workload` }],
    svidTtlSeconds: flagValue('dev-agent', '--ttl', values.ttl ?? '60s', parseDuration) / 1000,
    jwtTtlSeconds: flagValue('dev-agent', '--jwt-ttl', values['jwt-ttl'] ?? '300s', parseDuration) / 1000,
    intermediate: values.intermediate ?? false,
    federatedTrustDomains: (values.federate ?? []).map((text) => flagValue('dev-agent', '--federate', text, trustDomainName)),
    keyType: (values['key-type'] ?? 'ec-p256') as KeyType,
    jwtAlg: (values['jwt-alg'] ?? 'ES256') as JwtAlg,
  };
}

/** `ID#hint`: a SPIFFE ID cannot hold '#' (no fragments), so the first one splits. */
function parseIdentity(text: string): DevIdentity {
  const at = text.indexOf('#');
  if (at === -1) return { spiffeId: SpiffeId.parse(text).toString() };
  return { spiffeId: SpiffeId.parse(text.slice(0, at)).toString(), hint: text.slice(at + 1) };
}

/** Also takes a SPIFFE ID and answers its trust domain. */
function trustDomainName(text: string): string {
  return TrustDomain.parse(text).name;
}

/** The first identity's, so that `--spiffe-id spiffe://acme.org/web` alone is enough. */
function defaultTrustDomain(identities: DevIdentity[]): string {
  return identities[0] ? trustDomainName(identities[0].spiffeId) : 'example.org';
}
