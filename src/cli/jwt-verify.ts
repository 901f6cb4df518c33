/** `spiffe-helper jwt verify`: checks a token against a bundle file the helper wrote. */
import { ExitCode, HelperError } from '../errors.js';
import { readStreamText, readTextFile, whyUnreadable } from '../read-text.js';
import { TrustDomain } from '../spiffe/id.js';
import { parseJwtBundleFile } from '../spiffe/jwt-bundle-file.js';
import type { JwtBundleSet } from '../spiffe/jwtbundle.js';
import { parseAndValidateJwtSvid } from '../spiffe/jwtsvid.js';
import { flagValue } from './args.js';
import { defineCommand } from './command.js';

export const jwtVerifyCommand = defineCommand({
  about: `Validates a JWT-SVID offline: signature against the bundle of the subject's trust domain, audience, expiry. Prints {"spiffe_id", "audience", "expiry", "issued_at"} as JSON on stdout. Pass - to read the token from stdin (a token on the command line is visible to other users).`,
  flags: {
    bundle: {
      type: 'string',
      value: 'FILE',
      required: true,
      doc: 'jwt_bundle_file_name as written with jwt_bundle_format "go-helper" ({"<trust domain>": "<base64 JWKS>"}), or a plain JWKS file',
    },
    audience: { type: 'string', value: 'AUDIENCE', required: true, doc: `the token's "aud" must contain it` },
    'trust-domain': {
      type: 'string',
      value: 'TD',
      doc: 'accept tokens of this trust domain only; required with a plain JWKS file, which does not say whose keys it holds',
    },
  },
  positional: 'TOKEN (or - for stdin)',
  exitCodes: [
    ['ok', 'valid'],
    ['usage', 'usage'],
    ['workloadApi', 'invalid token or unusable bundle file (the reason on stderr)'],
    ['interrupted', 'stopped by SIGINT'],
    ['terminated', 'stopped by SIGTERM'],
  ],
  async run({ values, positional }, { log }) {
    const trustDomain = values['trust-domain'] === undefined ? undefined : flagValue('jwt verify', '--trust-domain', values['trust-domain'], TrustDomain.parse);
    const token = (positional === '-' ? await readToken() : positional).trim();
    const bundles = await readBundleFile(values.bundle!, trustDomain);
    for (const b of bundles.values()) for (const why of b.ignored) log.warn(`jwt bundle key ignored: ${b.trustDomain.name}: ${why}`);
    const svid = parseAndValidateJwtSvid(token, { audience: values.audience!, bundles });
    const out = { spiffe_id: svid.id.toString(), audience: svid.audience, expiry: svid.expiry.toISOString(), issued_at: svid.issuedAt?.toISOString() };
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return ExitCode.ok;
  },
});

async function readToken(): Promise<string> {
  try {
    return await readStreamText(process.stdin);
  } catch (e) {
    throw new HelperError('jwtsvid', `jwtsvid: cannot read the token from stdin: ${whyUnreadable(e)}`);
  }
}

async function readBundleFile(file: string, trustDomain: TrustDomain | undefined): Promise<JwtBundleSet> {
  let content: string;
  try {
    content = await readTextFile(file);
  } catch (e) {
    throw new HelperError('jwtbundle', `jwtbundle: cannot read ${file}: ${whyUnreadable(e)}`);
  }
  return parseJwtBundleFile(content, file, trustDomain);
}
