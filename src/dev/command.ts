import { parseArgs } from 'node:util';
import { formatDuration, parseDuration } from '../config/duration.js';
import { HelperError, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { SpiffeId, TrustDomain } from '../spiffe/id.js';
import { startDevAgent, type DevAgentOptions, type DevIdentity } from './agent.js';
import { keyTypes, type KeyType } from './ca.js';
import type { JwtAlg } from './jwt-issuer.js';

/** `spiffe-helper dev-agent`: runs the development Workload API agent until told to stop. */
const DEFAULT_SOCKET = '/tmp/spiffe-helper-dev/agent.sock';
const jwtAlgs: readonly JwtAlg[] = ['ES256', 'RS256'];

export const devAgentUsage = `Usage: spiffe-helper dev-agent [flags]

Serves the SPIFFE Workload API on a Unix socket from an in-memory CA, for development and
tests. Not for production: keys are generated at start and never leave memory.

Flags:
  --socket PATH          Unix socket to listen on (default ${DEFAULT_SOCKET})
  --trust-domain TD      trust domain (default: that of the first --spiffe-id, else example.org)
  --spiffe-id ID[#HINT]  identity to issue, with an optional hint; repeatable
                         (default spiffe://<trust domain>/workload)
  --ttl DURATION         X.509-SVID lifetime, rotated at half of it (default 60s; e.g. 30s, 2m)
  --intermediate         sign SVIDs with an intermediate CA (chains of two certificates)
  --federate TD          also serve a bundle for this federated trust domain; repeatable
  --key-type TYPE        ${keyTypes.join(', ')} (default ec-p256)
  --jwt-ttl DURATION     JWT-SVID lifetime (default 300s)
  --jwt-alg ALG          ${jwtAlgs.join(', ')} (default ES256)
  -h, --help             show this help

Point the helper at it with: agent_address = "unix://<PATH>"
`;

const flags = {
  socket: { type: 'string' },
  'trust-domain': { type: 'string' },
  'spiffe-id': { type: 'string', multiple: true },
  ttl: { type: 'string' },
  intermediate: { type: 'boolean' },
  federate: { type: 'string', multiple: true },
  'key-type': { type: 'string' },
  'jwt-ttl': { type: 'string' },
  'jwt-alg': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function runDevAgentCommand(argv: string[], log: Logger, signal: AbortSignal): Promise<number> {
  const options = parseDevAgentArgs(argv);
  if (options === 'help') {
    process.stdout.write(devAgentUsage);
    return 0;
  }
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
  return 0;
}

type ParsedOptions = DevAgentOptions & { trustDomain: string; identities: DevIdentity[]; svidTtlSeconds: number };

/** Exported for tests: the options `runDevAgentCommand` would start the agent with. */
export function parseDevAgentArgs(argv: string[]): ParsedOptions | 'help' {
  const values = parseFlags(argv);
  if (values.help) return 'help';
  const identities = (values['spiffe-id'] ?? []).map((text) => flagValue('--spiffe-id', text, parseIdentity));
  const trustDomain =
    values['trust-domain'] === undefined
      ? defaultTrustDomain(identities)
      : flagValue('--trust-domain', values['trust-domain'], trustDomainName);
  return {
    socketPath: values.socket ?? DEFAULT_SOCKET,
    trustDomain,
    identities: identities.length > 0 ? identities : [{ spiffeId: `spiffe://${trustDomain}/workload` }],
    svidTtlSeconds: flagValue('--ttl', values.ttl ?? '60s', parseDuration) / 1000,
    jwtTtlSeconds: flagValue('--jwt-ttl', values['jwt-ttl'] ?? '300s', parseDuration) / 1000,
    intermediate: values.intermediate ?? false,
    federatedTrustDomains: (values.federate ?? []).map((text) => flagValue('--federate', text, trustDomainName)),
    keyType: oneOf('--key-type', values['key-type'] ?? 'ec-p256', keyTypes),
    jwtAlg: oneOf('--jwt-alg', values['jwt-alg'] ?? 'ES256', jwtAlgs),
  };
}

function parseFlags(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: flags, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw usage(describeError(e));
  }
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

/** Parses one flag's value, turning the parser's complaint into a usage error naming the flag. */
function flagValue<T>(flag: string, text: string, parse: (text: string) => T): T {
  try {
    return parse(text);
  } catch (e) {
    throw usage(`${flag}: ${describeError(e)}`);
  }
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw usage(`${flag} ${JSON.stringify(value)}: must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function usage(message: string): HelperError {
  return new HelperError('usage', `dev-agent: ${message} (see spiffe-helper dev-agent --help)`);
}
