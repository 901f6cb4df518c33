import { text } from 'node:stream/consumers';
import { parseArgs } from 'node:util';
import { describeError, exitCodeFor, ExitCode, HelperError } from './errors.js';
import type { Logger } from './log.js';
import { TrustDomain } from './spiffe/id.js';
import { parseJwtBundle, parseJwtBundleSet, type JwtBundleSet } from './spiffe/jwtbundle.js';
import { parseAndValidateJwtSvid } from './spiffe/jwtsvid.js';
import { readTextFile } from './read-text.js';

/** `spiffe-helper jwt verify`: checks a token against a bundle file the helper wrote. */
export const jwtVerifyUsage = `Usage: spiffe-helper jwt verify --bundle FILE --audience AUDIENCE [--trust-domain TD] TOKEN|-

Validates a JWT-SVID offline: signature against the bundle of the subject's trust domain,
audience, expiry. Prints {"spiffe_id", "audience", "expiry", "issued_at"} as JSON on stdout.
Pass - to read the token from stdin (a token on the command line is visible to other users).

Flags:
  --bundle FILE          jwt_bundle_file_name as written with jwt_bundle_format "go-helper"
                         ({"<trust domain>": "<base64 JWKS>"}), or a plain JWKS file
  --audience AUDIENCE    the token's "aud" must contain it
  --trust-domain TD      accept tokens of this trust domain only; required with a plain JWKS
                         file, which does not say whose keys it holds
  -h, --help             show this help

Exit codes: 0 valid, 2 usage, 5 invalid token or unusable bundle file (the reason on stderr),
130 / 143 stopped by SIGINT / SIGTERM.
`;

export interface JwtVerifyIo {
  stdout?: (line: string) => void;
  stdin?: NodeJS.ReadableStream;
}

export async function runJwtVerifyCommand(argv: string[], log: Logger, io: JwtVerifyIo = {}): Promise<number> {
  const stdout = io.stdout ?? ((line: string) => process.stdout.write(line));
  try {
    const args = parseVerifyArgs(argv);
    if (args === 'help') {
      stdout(jwtVerifyUsage);
      return ExitCode.ok;
    }
    const token = (args.token === '-' ? await text(io.stdin ?? process.stdin) : args.token).trim();
    const bundles = await readBundleFile(args.bundle, args.trustDomain);
    for (const b of bundles.values()) for (const why of b.ignored) log.warn(`jwt bundle key ignored: ${b.trustDomain.name}: ${why}`);
    const svid = parseAndValidateJwtSvid(token, { audience: args.audience, bundles });
    const out = { spiffe_id: svid.id.toString(), audience: svid.audience, expiry: svid.expiry.toISOString(), issued_at: svid.issuedAt?.toISOString() };
    stdout(JSON.stringify(out) + '\n');
    return ExitCode.ok;
  } catch (e) {
    log.error(describeError(e), { code: e instanceof HelperError ? e.code : 'internal' });
    return exitCodeFor(e);
  }
}

interface VerifyArgs {
  bundle: string;
  audience: string;
  trustDomain?: TrustDomain;
  token: string;
}

function parseVerifyArgs(argv: string[]): VerifyArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        bundle: { type: 'string' },
        audience: { type: 'string' },
        'trust-domain': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    throw usage((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (!values.bundle) throw usage('--bundle FILE is required');
  if (!values.audience) throw usage('--audience is required');
  if (positionals.length !== 1) throw usage(`expected one TOKEN (or - for stdin), got ${positionals.length} arguments`);
  let trustDomain: TrustDomain | undefined;
  if (values['trust-domain'] !== undefined) {
    try {
      trustDomain = TrustDomain.parse(values['trust-domain']);
    } catch (e) {
      throw usage(`--trust-domain: ${(e as Error).message}`);
    }
  }
  return { bundle: values.bundle, audience: values.audience, trustDomain, token: positionals[0]! };
}

/** Reads a bundle file in either layout the helper writes (see output/jwt-writer.ts). */
export async function readBundleFile(file: string, trustDomain: TrustDomain | undefined): Promise<JwtBundleSet> {
  let content: string;
  try {
    content = await readTextFile(file);
  } catch (e) {
    throw new HelperError('jwtbundle', `jwtbundle: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseJwtBundleFile(content, file, trustDomain);
}

export function parseJwtBundleFile(content: string, file: string, trustDomain: TrustDomain | undefined): JwtBundleSet {
  let doc: unknown;
  try {
    doc = JSON.parse(content);
  } catch (e) {
    throw new HelperError('jwtbundle', `jwtbundle: ${file} is not JSON (${(e as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new HelperError('jwtbundle', `jwtbundle: ${file} is neither a JWKS nor a {"<trust domain>": "<base64 JWKS>"} object`);
  }
  if ('keys' in doc) {
    // A plain JWKS says nothing about whose keys these are; guessing from the token would let it choose.
    if (!trustDomain) throw new HelperError('usage', `${file} is a plain JWKS, which does not name its trust domain: add --trust-domain <name>`);
    return new Map([[trustDomain.name, parseJwtBundle(trustDomain, content)]]);
  }
  const decoded: Record<string, Buffer> = {};
  for (const [td, value] of Object.entries(doc)) {
    if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
      throw new HelperError('jwtbundle', `jwtbundle: ${file}: the value for "${td}" must be a base64 string of a JWKS document`);
    }
    decoded[td] = Buffer.from(value, 'base64');
  }
  const set = parseJwtBundleSet(decoded);
  if (!trustDomain) return set;
  const only = set.get(trustDomain.name);
  if (!only) throw new HelperError('jwtbundle', `jwtbundle: ${file} has no bundle for trust domain "${trustDomain.name}"`);
  return new Map([[trustDomain.name, only]]);
}

function usage(message: string): HelperError {
  return new HelperError('usage', `${message}\n\n${jwtVerifyUsage}`);
}
