import type { LogFormat, LogLevel } from '../log.js';
import type { EndpointAddress } from '../workload/address.js';
import { agentAddress } from './agent-address.js';
import { readCmd, readSignal } from './cmd.js';
import type { StoreOutputs } from './keystore-output.js';
import type { Dialect } from './go-config.js';
import { readHealth } from './health-checks.js';
import type { TableReader } from './keys.js';
import { checkJwtBundleFormat, checkPerDomainPatterns } from './trust-domain-pattern.js';
import { readX509 } from './x509-output.js';

/**
 * The validated configuration. normalizeConfig, with the readers it calls beside it in
 * config/, is the only place that decides a default or a rule across keys; everything
 * downstream trusts these values.
 */
export interface X509Output {
  svidFileName: string;
  keyFileName: string;
  bundleFileName: string;
  addIntermediatesToBundle: boolean;
  includeFederatedDomains: boolean;
  /** Our extension: one bundle file per federated trust domain, `{trust_domain}` in the name. */
  federatedBundleFileName?: string;
  omitExpired: boolean;
  hint: string;
  /** `files`: each file replaced atomically; `atomic_dir`: the set switches at once through `..data`. */
  layout: FileLayout;
  certFileMode: number;
  /** Also the keystore's mode (it holds the key); the truststore takes certFileMode. */
  keyFileMode: number;
  /** PKCS#12 keystore and truststore for JVM servers, written with the PEM files. */
  stores?: StoreOutputs;
}

export type FileLayout = 'files' | 'atomic_dir';

export interface JwtSvidOutput {
  audience: string;
  extraAudiences: string[];
  fileName: string;
}

/** `go-helper`: one JSON file of base64 JWKS by trust domain; `jwks`: one plain JWKS file per trust domain. */
export type JwtBundleFormat = 'go-helper' | 'jwks';
const JWT_BUNDLE_FORMATS: readonly JwtBundleFormat[] = ['go-helper', 'jwks'];

/**
 * With renew_signal, cmd is a long-lived program we wrap (nginx); without it, a reload command
 * run once per rotation (the Go helper's MySQL pattern).
 */
export interface CommandConfig {
  path: string;
  args: string[];
  /** What to do when a wrapped program exits: exit with its code (`never`), or start it again. */
  restartPolicy: RestartPolicy;
  /** How long a stopping child gets between its stop signal and SIGKILL. */
  stopGraceMs: number;
}

export type RestartPolicy = 'never' | 'on-failure' | 'always';

export interface HealthConfig {
  enabled: boolean;
  bindAddress: string;
  port: number;
  livenessPath: string;
  readinessPath: string;
  /** Ours: Prometheus text format on METRICS_PATH of the same listener. */
  metricsEnabled: boolean;
}

export { METRICS_PATH } from './health-checks.js';

export interface Config {
  file: string;
  agentAddress: EndpointAddress;
  /** Which setting the address came from: `agent_address`, the environment, or the default. */
  agentAddressSource: string;
  /** The file's syntax (`env` when there is no file): logged once at start-up. */
  dialect: Dialect | 'env';
  /**
   * Warnings and notes for the start-up log, one line each: where a Go config's meaning was
   * made explicit or differs, and deprecated settings.
   */
  notices: string[];
  /** `.` when not set: the working directory, as in the Go helper. */
  certDir: string;
  x509?: X509Output;
  jwtSvids: JwtSvidOutput[];
  /** X.509 updates closer together than this are written once (daemon). */
  updateQuietMs: number;
  /** After a program was notified, the X.509 files stay unchanged this long (daemon). */
  renewSettleMs: number;
  jwtBundleFileName?: string;
  jwtBundleFormat: JwtBundleFormat;
  /** Picks the SVID when the agent sends several: X.509 and JWT alike, as in the Go helper. */
  hint: string;
  jwtSvidFileMode: number;
  jwtBundleFileMode: number;
  daemonMode: boolean;
  cmd?: CommandConfig;
  renewSignal?: NodeJS.Signals;
  pidFileName?: string;
  health: HealthConfig;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** Legal but unwise settings, logged once at start-up, each naming its key. */
  warnings: ConfigWarning[];
}

export interface ConfigWarning {
  key: string;
  message: string;
}

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

/** `daemonModeOverride`: the command line's daemon mode, which wins over the file's. */
export function normalizeConfig(r: TableReader, file: string, env: NodeJS.ProcessEnv, daemonModeOverride?: boolean): Config {
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
  const fileDaemonMode = r.bool('daemon_mode', true);
  // One `hint` picks both the X.509-SVID and the JWT-SVIDs, as in the Go helper.
  const hint = r.string('hint') ?? '';
  const x509 = readX509(r, hint, env);
  const jwtSvids = r.tableArray('jwt_svids').map(readJwtSvid);
  const jwtBundleFileName = r.fileName('jwt_bundle_file_name');
  const config: Config = {
    file,
    agentAddress: agent.address,
    agentAddressSource: agent.source,
    dialect: 'toml',
    notices,
    certDir: certDir || '.',
    x509,
    jwtSvids,
    // SPIRE's double pushes come 0.3-36 ms apart; nginx reloads in milliseconds.
    updateQuietMs: r.duration('update_quiet_period', 100, 5_000),
    renewSettleMs: r.duration('renew_settle_period', 1_000, 60_000),
    jwtBundleFileName,
    jwtBundleFormat: r.oneOf('jwt_bundle_format', JWT_BUNDLE_FORMATS, 'go-helper'),
    hint,
    jwtSvidFileMode: r.mode('jwt_svid_file_mode', 0o600),
    jwtBundleFileMode: r.mode('jwt_bundle_file_mode', 0o600),
    daemonMode: daemonModeOverride ?? fileDaemonMode,
    cmd: readCmd(r),
    renewSignal: readSignal(r),
    pidFileName: r.nonEmptyString('pid_file_name'),
    health: readHealth(r),
    logLevel: r.oneOf('log_level', LOG_LEVELS, 'info'),
    logFormat: r.oneOf('log_format', LOG_FORMATS, 'text'),
    warnings: [],
  };
  r.rejectUnknown();

  if (!x509 && jwtSvids.length === 0 && !jwtBundleFileName) {
    throw r.error(
      'svid_file_name',
      'nothing to write: set svid_file_name, svid_key_file_name and svid_bundle_file_name, or jwt_svids, or jwt_bundle_file_name',
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
  // svid_file_name may equal svid_key_file_name (one combined file); no other two may collide.
  const key = x509 && x509.keyFileName !== x509.svidFileName ? x509.keyFileName : undefined;
  const names = [x509?.svidFileName, key, x509?.bundleFileName, x509?.stores?.keystore?.fileName, x509?.stores?.truststore?.fileName, jwtBundleFileName, ...jwtSvids.map((j) => j.fileName)];
  const seen = new Set<string>();
  for (const n of names) {
    if (n === undefined) continue;
    if (seen.has(n)) throw r.error('cert_dir', `two outputs would write the same file "${n}"`);
    seen.add(n);
  }
  checkJwtBundleFormat(r, config);
  checkPerDomainPatterns(r, config);
  config.warnings = secretModeWarnings(config);
  return config;
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

function readJwtSvid(t: TableReader): JwtSvidOutput {
  const audience = t.nonEmptyString('jwt_audience');
  const file = t.fileName('jwt_svid_file_name');
  const extra = t.stringArray('jwt_extra_audiences') ?? [];
  t.rejectUnknown();
  if (audience === undefined) throw t.error('jwt_audience', 'is required');
  if (file === undefined) throw t.error('jwt_svid_file_name', 'is required');
  return { audience, extraAudiences: extra, fileName: file };
}
