import { agentAddress } from './agent-address.js';
import { readCmd, readSignal } from './cmd.js';
import type { Config, ConfigWarning, JwtSvidOutput } from './config.js';
import { readHealth } from './health-checks.js';
import type { TableReader, TopLevelReader } from './keys.js';
import { JWT_SVID_KEYS } from './schema.js';
import { checkJwtBundleFormat, checkPerDomainPatterns } from './trust-domain-pattern.js';
import { readX509 } from './x509-output.js';
import { fileIdentity, outputPath } from '../output/names.js';
import { resolveId } from '../output/ownership.js';

/**
 * A parsed config (file and environment merged) into the validated Config: every key read
 * once, with its schema default, and the rules across keys. `daemonModeOverride`: the command
 * line's daemon mode, which wins over the file's.
 */
export function normalizeConfig(r: TopLevelReader, file: string, env: NodeJS.ProcessEnv, daemonModeOverride?: boolean): Config {
  const agentAddressText = r.string('agent_address');
  let agent;
  try {
    agent = agentAddress(agentAddressText, env);
  } catch (e) {
    throw r.error('agent_address', (e as Error).message);
  }
  const notices = agent.notice ? [agent.notice] : [];

  const certDir = r.string('cert_dir');
  // Read even when the command line decides, so that the key is known and type-checked.
  const fileDaemonMode = r.bool('daemon_mode');
  // One `hint` picks both the X.509-SVID and the JWT-SVIDs, as in the Go helper.
  const hint = r.string('hint');
  const x509 = readX509(r, hint);
  const jwtSvids = r.tableArray('jwt_svids', JWT_SVID_KEYS).map(readJwtSvid);
  const jwtBundleFileName = r.filePath('jwt_bundle_file_name');
  const config: Config = {
    file,
    agentAddress: agent.address,
    agentAddressSource: agent.source,
    dialect: 'toml',
    notices,
    certDir: certDir || '.',
    x509,
    jwtSvids,
    updateQuietMs: r.duration('update_quiet_period'),
    renewSettleMs: r.duration('renew_settle_period'),
    jwtBundleFileName,
    jwtBundleFormat: r.oneOf('jwt_bundle_format'),
    hint,
    jwtSvidFileMode: r.mode('jwt_svid_file_mode'),
    jwtBundleFileMode: r.mode('jwt_bundle_file_mode'),
    daemonMode: daemonModeOverride ?? fileDaemonMode,
    cmd: readCmd(r),
    renewSignal: readSignal(r),
    pidFileName: r.nonEmptyString('pid_file_name'),
    health: readHealth(r),
    logLevel: r.oneOf('log_level'),
    logFormat: r.oneOf('log_format'),
    warnings: [],
    fileOwnership: { uid: readId(r, 'file_owner', 'user'), gid: readId(r, 'file_group', 'group') },
  };
  r.rejectUnknown();

  if (!x509 && jwtSvids.length === 0 && !jwtBundleFileName) {
    throw r.error(
      'svid_file_name',
      'nothing to write: set svid_file_name, svid_key_file_name and svid_bundle_file_name, or keystore_file_name or truststore_file_name, or jwt_svids, or jwt_bundle_file_name',
    );
  }
  if (!certDir) notices.push('note: cert_dir is not set: the files are written to the working directory, as the Go helper does');
  if (!config.daemonMode) {
    // The Go helper's one-shot rules: a pid file would be silently ignored, so it is an error.
    if (config.pidFileName) throw r.error('pid_file_name', 'is set but daemon_mode is false: pid_file_name is only supported in daemon mode (as in the Go helper)');
    if (config.cmd) notices.push('warning: cmd is set but daemon_mode is false: cmd is not run in one-shot mode (as in the Go helper)');
    if (config.renewSignal) notices.push('warning: renew_signal is set but daemon_mode is false: no signal is sent in one-shot mode (as in the Go helper)');
  } else if (config.renewSignal && !config.cmd && !config.pidFileName) {
    notices.push('warning: renew_signal is set but neither cmd nor pid_file_name is: nothing is signalled (as in the Go helper)');
  }
  if (config.pidFileName && !config.renewSignal) throw r.error('pid_file_name', 'needs renew_signal: the signal to send to that process');
  if (config.cmd && !config.renewSignal && config.cmd.restartPolicy !== 'never') {
    throw r.error('cmd_restart_policy', 'applies to a long-lived cmd (set renew_signal); without renew_signal cmd is a reload command run once per rotation');
  }
  const names = outputNames(config);
  const seen = new Map<string, string>();
  for (const n of names) {
    // By the file reached: `a.pem`, `./a.pem`, `<cwd>/a.pem` with cert_dir unset, and a path through a symlinked directory are one file.
    const path = fileIdentity(outputPath(config.certDir, n));
    const first = seen.get(path);
    if (first !== undefined) throw r.error('cert_dir', `two outputs would write the same file "${n}"${first === n ? '' : ` (the same as "${first}")`}`);
    seen.set(path, n);
  }
  checkJwtBundleFormat(r, config);
  checkPerDomainPatterns(r, config, names);
  config.warnings = secretModeWarnings(config);
  return config;
}

/**
 * Every name an output is configured with, once per file: svid_file_name may equal
 * svid_key_file_name (one combined file). A `{trust_domain}` pattern (jwt_bundle_format =
 * "jwks") is among them as written; no trust domain name has its braces, so it matches none.
 */
export function outputNames(config: Pick<Config, 'x509' | 'jwtBundleFileName' | 'jwtSvids'>): string[] {
  const x509 = config.x509;
  const key = x509 && x509.keyFileName !== x509.svidFileName ? x509.keyFileName : undefined;
  const names = [
    x509?.svidFileName,
    key,
    x509?.bundleFileName,
    x509?.stores?.keystore?.fileName,
    x509?.stores?.truststore?.fileName,
    config.jwtBundleFileName,
    ...config.jwtSvids.map((j) => j.fileName),
  ];
  return names.filter((n): n is string => n !== undefined);
}

/** A file holding a private key or a token that group or others may read or write. */
function secretModeWarnings(config: Config): ConfigWarning[] {
  const modes: [string, number | undefined][] = [
    ['key_file_mode', config.x509?.keyFileMode],
    ['jwt_svid_file_mode', config.jwtSvids.length > 0 ? config.jwtSvidFileMode : undefined],
    ['jwt_bundle_file_mode', config.jwtBundleFileName !== undefined ? config.jwtBundleFileMode : undefined],
  ];
  return modes
    .filter((m): m is [string, number] => m[1] !== undefined && (m[1] & 0o077) !== 0)
    .map(([key, mode]) => ({ key, message: `${key} 0${mode.toString(8).padStart(3, '0')} grants access to users other than the owner; 0600 keeps the file private` }));
}

function readJwtSvid(t: TableReader<typeof JWT_SVID_KEYS>): JwtSvidOutput {
  const audience = t.nonEmptyString('jwt_audience');
  const file = t.filePath('jwt_svid_file_name');
  const extra = t.stringArray('jwt_extra_audiences') ?? [];
  t.rejectUnknown();
  if (audience === undefined) throw t.error('jwt_audience', 'is required');
  if (file === undefined) throw t.error('jwt_svid_file_name', 'is required');
  return { audience, extraAudiences: extra, fileName: file };
}

/** `file_owner` / `file_group`: a name (looked up now, so that a typo is a config error) or a numeric id. */
function readId(r: TopLevelReader, key: 'file_owner' | 'file_group', kind: 'user' | 'group'): number | undefined {
  const v = r.raw(key);
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' && typeof v !== 'number') throw r.error(key, `must be a ${kind} name or a numeric id, got ${typeof v}`);
  try {
    return resolveId(kind, v);
  } catch (e) {
    throw r.error(key, (e as Error).message);
  }
}
