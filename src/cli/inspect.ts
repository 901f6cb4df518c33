import { join, resolve } from 'node:path';
import type { Config } from '../config/config.js';
import { readPasswordFile } from '../config/keystore-output.js';
import { loadConfig } from '../config/load.js';
import { usageError } from './args.js';
import { defineCommand } from './command.js';
import { ExitCode } from '../errors.js';
import { configStoreTargets } from '../inspect/keystore.js';
import { renderText } from '../inspect/render.js';
import type { StoreTarget, Targets } from '../inspect/document.js';
import { inspect } from '../inspect/report.js';

/**
 * `spiffe-helper inspect`: what the helper wrote, as a person debugging a pod needs to see it.
 * Reads files only (no agent); prints no key and no token.
 */
export const inspectCommand = defineCommand({
  about: `Reads the files the helper wrote and reports, for each:

  X.509-SVID   SPIFFE ID, serial, issuer, validity and time left; whether the key matches and
               the chain verifies against the bundle
  bundles      trust domains (from the CAs' URI SANs) and CA counts
  JWT-SVIDs    subject, audiences, expiry, and the signature against the JWT bundle file
  JWT bundle   trust domains and key counts
  keystores    PKCS#12 keystore and truststore: aliases, SPIFFE ID, validity, chain, key,
               trusted CAs, with the MAC verified (the password from the config, or
               --password-file; without it, what could not be checked is said)

Never prints a private key or a token.`,
  flags: {
    config: {
      type: 'string',
      value: 'FILE',
      doc: "the helper's config: inspect every file it names (default: helper.conf, or the SPIFFE_HELPER_* environment when there is no helper.conf)",
    },
    dir: { type: 'string', value: 'DIR', doc: 'inspect files in DIR instead, named by the flags below' },
    svid: { type: 'string', value: 'NAME', doc: 'with --dir: certificate chain (default svid.pem)' },
    key: { type: 'string', value: 'NAME', doc: 'with --dir: private key (default svid_key.pem)' },
    bundle: { type: 'string', value: 'NAME', doc: 'with --dir: CA bundle (default bundle.pem)' },
    'jwt-svid': { type: 'string', multiple: true, value: 'NAME', doc: 'with --dir: a JWT-SVID file; repeatable' },
    'jwt-bundle': { type: 'string', value: 'NAME', doc: 'with --dir: a JWT bundle file ({"<trust domain>": "<base64 JWKS>"})' },
    keystore: { type: 'string', value: 'NAME', doc: 'with --dir: a PKCS#12 keystore' },
    truststore: { type: 'string', value: 'NAME', doc: 'with --dir: a PKCS#12 truststore' },
    'password-file': { type: 'string', value: 'FILE', doc: "with --keystore/--truststore: the stores' password" },
    json: { type: 'boolean', doc: 'one JSON document on stdout instead of text' },
  },
  exitCodes: [
    ['ok', 'everything is present, unexpired and consistent'],
    ['usage', 'usage'],
    ['config', 'bad config'],
    [
      'inspectProblem',
      'a problem was found (a file missing or unreadable, an SVID or token expired or not yet valid, a key that does not match, a chain that does not verify, a token whose signature does not verify), each one listed',
    ],
    ['interrupted', 'stopped by SIGINT'],
    ['terminated', 'stopped by SIGTERM'],
  ],
  async run({ values }) {
    if (values.config !== undefined && values.dir !== undefined) throw usageError('inspect', 'give --config or --dir, not both');
    const dirOnly = (['svid', 'key', 'bundle', 'jwt-svid', 'jwt-bundle', 'keystore', 'truststore', 'password-file'] as const).find((k) => values[k] !== undefined);
    if (dirOnly && values.dir === undefined) throw usageError('inspect', `--${dirOnly} goes with --dir`);
    if (values['password-file'] !== undefined && values.keystore === undefined && values.truststore === undefined) throw usageError('inspect', '--password-file goes with --keystore or --truststore');
    const targets =
      values.dir !== undefined
        ? dirTargets({ ...values, dir: values.dir, jwtSvids: values['jwt-svid'] ?? [], jwtBundle: values['jwt-bundle'], passwordFile: values['password-file'] })
        : configTargets(await loadConfig(values.config ?? 'helper.conf', process.env, { optional: values.config === undefined, passwordsLater: true }), process.env);
    const now = new Date();
    const report = await inspect(targets, now);
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderText(report, now));
    return report.ok ? ExitCode.ok : ExitCode.inspectProblem;
  },
});

interface DirArgs {
  dir: string;
  svid?: string;
  key?: string;
  bundle?: string;
  jwtSvids: string[];
  jwtBundle?: string;
  keystore?: string;
  truststore?: string;
  passwordFile?: string;
}

function configTargets(config: Config, env: NodeJS.ProcessEnv): Targets {
  const dir = config.certDir;
  const x = config.x509;
  return {
    certDir: dir,
    x509:
      x?.svidFileName !== undefined ? { svid: join(dir, x.svidFileName), key: join(dir, x.keyFileName), bundle: join(dir, x.bundleFileName), federatedPattern: x.federatedBundleFileName } : undefined,
    jwtSvids: config.jwtSvids.map((j) => ({ file: join(dir, j.fileName), audience: j.audience })),
    jwtBundle: config.jwtBundleFileName === undefined ? undefined : { file: config.jwtBundleFileName, pattern: config.jwtBundleFormat === 'jwks' },
    stores: configStoreTargets(config, env),
  };
}

function dirTargets(args: DirArgs): Targets {
  const dir = args.dir;
  const at = (name: string): string => resolve(dir, name);
  const x509Named = args.svid !== undefined || args.key !== undefined || args.bundle !== undefined;
  const othersNamed = args.jwtSvids.length > 0 || args.jwtBundle !== undefined || args.keystore !== undefined || args.truststore !== undefined;
  return {
    certDir: dir,
    // With only JWT files or stores named, the X.509 defaults are not looked for.
    x509: x509Named || !othersNamed ? { svid: at(args.svid ?? 'svid.pem'), key: at(args.key ?? 'svid_key.pem'), bundle: at(args.bundle ?? 'bundle.pem') } : undefined,
    jwtSvids: args.jwtSvids.map((f) => ({ file: at(f) })),
    jwtBundle: args.jwtBundle === undefined ? undefined : { file: args.jwtBundle, pattern: false },
    stores: dirStoreTargets(at, args.keystore, args.truststore, args.passwordFile),
  };
}

/** `--keystore`, `--truststore` and `--password-file` (for both) of `inspect --dir`. */
function dirStoreTargets(at: (name: string) => string, keystore: string | undefined, truststore: string | undefined, passwordFile: string | undefined): StoreTarget[] {
  let password: string | undefined;
  if (passwordFile !== undefined) {
    try {
      password = readPasswordFile(passwordFile);
    } catch (e) {
      throw usageError('inspect', `--password-file ${passwordFile}: ${(e as Error).message}`);
    }
  }
  const target = (kind: StoreTarget['kind'], name: string | undefined): StoreTarget[] => (name === undefined ? [] : [{ kind, file: at(name), ...(password !== undefined ? { password } : {}) }]);
  return [...target('keystore', keystore), ...target('truststore', truststore)];
}
