import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Config } from '../config/config.js';
import { loadConfig } from '../config/load.js';
import { describeError, exitCodeFor, ExitCode, HelperError } from '../errors.js';
import { configStoreTargets, dirStoreTargets } from './keystore.js';
import { renderText } from './render.js';
import { inspect, type Targets } from './report.js';

/**
 * `spiffe-helper inspect`: what the helper wrote, as a person debugging a pod needs to see it.
 * Reads files only (no agent); prints no key and no token.
 */
export const INSPECT_PROBLEM_EXIT_CODE = 9;

export const inspectUsage = `Usage: spiffe-helper inspect [--config FILE | --dir DIR [options]] [--json]

Reads the files the helper wrote and reports, for each:
  X.509-SVID   SPIFFE ID, serial, issuer, validity and time left; whether the key matches and
               the chain verifies against the bundle
  bundles      trust domains (from the CAs' URI SANs) and CA counts
  JWT-SVIDs    subject, audiences, expiry, and the signature against the JWT bundle file
  JWT bundle   trust domains and key counts
  keystores    PKCS#12 keystore and truststore (keystore_file_name, truststore_file_name):
               aliases, SPIFFE ID, validity, chain, trusted CAs, with the MAC verified
Never prints a private key or a token.

  --config FILE        the helper's config: inspect every file it names (default: helper.conf,
                       or the SPIFFE_HELPER_* environment when there is no helper.conf)
  --dir DIR            inspect files in DIR instead:
    --svid NAME          certificate chain (default svid.pem)
    --key NAME           private key (default svid_key.pem)
    --bundle NAME        CA bundle (default bundle.pem)
    --jwt-svid NAME      a JWT-SVID file; repeatable
    --jwt-bundle NAME    a JWT bundle file ({"<trust domain>": "<base64 JWKS>"})
    --keystore NAME      a PKCS#12 keystore (alias, SPIFFE ID, validity, chain, key)
    --truststore NAME    a PKCS#12 truststore (trusted CAs)
    --password-file FILE the stores' password; without it, says what it cannot check
  --json               one JSON document on stdout instead of text
  -h, --help           show this help

Exit codes: 0 everything is present, unexpired and consistent; 2 usage; 3 bad config;
${INSPECT_PROBLEM_EXIT_CODE} a problem was found (a file missing or unreadable, an SVID or token expired or not yet
valid, a key that does not match, a chain that does not verify, a token whose signature does
not verify). Each problem is listed. 130 / 143: stopped by SIGINT / SIGTERM.
`;

export interface InspectIo {
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
}

export async function runInspectCommand(argv: string[], io: InspectIo = {}): Promise<number> {
  const stdout = io.stdout ?? ((t: string) => void process.stdout.write(t));
  const stderr = io.stderr ?? ((t: string) => void process.stderr.write(t));
  try {
    const args = parseInspectArgs(argv);
    if (args === 'help') {
      stdout(inspectUsage);
      return ExitCode.ok;
    }
    const targets = args.dir !== undefined ? dirTargets(args) : configTargets(await loadConfig(args.config ?? 'helper.conf', io.env ?? process.env, { optional: args.config === undefined }));
    const report = await inspect(targets, io.now?.() ?? new Date());
    stdout(args.json ? JSON.stringify(report, null, 2) + '\n' : renderText(report, io.now?.() ?? new Date()));
    return report.ok ? ExitCode.ok : INSPECT_PROBLEM_EXIT_CODE;
  } catch (e) {
    stderr(`error: ${describeError(e)}\n`);
    return exitCodeFor(e);
  }
}

interface InspectArgs {
  config?: string;
  dir?: string;
  svid?: string;
  key?: string;
  bundle?: string;
  jwtSvids: string[];
  jwtBundle?: string;
  keystore?: string;
  truststore?: string;
  passwordFile?: string;
  json: boolean;
}

function parseInspectArgs(argv: string[]): InspectArgs | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        dir: { type: 'string' },
        svid: { type: 'string' },
        key: { type: 'string' },
        bundle: { type: 'string' },
        'jwt-svid': { type: 'string', multiple: true },
        'jwt-bundle': { type: 'string' },
        keystore: { type: 'string' },
        truststore: { type: 'string' },
        'password-file': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw usage((e as Error).message);
  }
  if (values.help) return 'help';
  if (values.config !== undefined && values.dir !== undefined) throw usage('give --config or --dir, not both');
  const dirOnly = (['svid', 'key', 'bundle', 'jwt-svid', 'jwt-bundle', 'keystore', 'truststore', 'password-file'] as const).find((k) => values[k] !== undefined);
  if (dirOnly && values.dir === undefined) throw usage(`--${dirOnly} goes with --dir`);
  if (values['password-file'] !== undefined && values.keystore === undefined && values.truststore === undefined) throw usage('--password-file goes with --keystore or --truststore');
  return {
    config: values.config,
    dir: values.dir,
    svid: values.svid,
    key: values.key,
    bundle: values.bundle,
    jwtSvids: values['jwt-svid'] ?? [],
    jwtBundle: values['jwt-bundle'],
    keystore: values.keystore,
    truststore: values.truststore,
    passwordFile: values['password-file'],
    json: values.json ?? false,
  };
}

function usage(message: string): HelperError {
  return new HelperError('usage', `${message}\n\n${inspectUsage}`);
}

function configTargets(config: Config): Targets {
  const dir = config.certDir;
  const x = config.x509;
  return {
    certDir: dir,
    x509: x && { svid: join(dir, x.svidFileName), key: join(dir, x.keyFileName), bundle: join(dir, x.bundleFileName), federatedPattern: x.federatedBundleFileName },
    jwtSvids: config.jwtSvids.map((j) => ({ file: join(dir, j.fileName), audience: j.audience })),
    jwtBundle: config.jwtBundleFileName === undefined ? undefined : { file: config.jwtBundleFileName, pattern: config.jwtBundleFormat === 'jwks' },
    stores: configStoreTargets(config),
  };
}

function dirTargets(args: InspectArgs): Targets {
  const dir = args.dir!;
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
