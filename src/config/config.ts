import { constants } from 'node:os';
import type { LogFormat, LogLevel } from '../log.js';
import { resolveAgentAddress, type EndpointAddress } from '../workload/address.js';
import { splitCmdArgs } from './cmd-args.js';
import { parseDuration } from './duration.js';
import { TableReader } from './keys.js';

/**
 * The validated configuration. This module is the only place that decides a default or a
 * rule across keys; everything downstream trusts these values.
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
  keyFileMode: number;
}

export type FileLayout = 'files' | 'atomic_dir';
const FILE_LAYOUTS: readonly FileLayout[] = ['files', 'atomic_dir'];

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
const RESTART_POLICIES: readonly RestartPolicy[] = ['never', 'on-failure', 'always'];

export interface HealthConfig {
  enabled: boolean;
  bindAddress: string;
  port: number;
  livenessPath: string;
  readinessPath: string;
  /** Ours: Prometheus text format on METRICS_PATH of the same listener. */
  metricsEnabled: boolean;
}

export const METRICS_PATH = '/metrics';

export interface Config {
  file: string;
  agentAddress: EndpointAddress;
  /** Which setting the address came from: `agent_address`, the environment, or the default. */
  agentAddressSource: string;
  certDir: string;
  x509?: X509Output;
  jwtSvids: JwtSvidOutput[];
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
}

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

export function normalizeConfig(r: TableReader, file: string, env: NodeJS.ProcessEnv): Config {
  const agentAddressText = r.string('agent_address');
  let agent;
  try {
    agent = resolveAgentAddress(agentAddressText, env);
  } catch (e) {
    throw r.error('agent_address', (e as Error).message);
  }

  const certDir = r.nonEmptyString('cert_dir');
  const x509 = readX509(r);
  const jwtSvids = r.tableArray('jwt_svids').map(readJwtSvid);
  const jwtBundleFileName = fileName(r, 'jwt_bundle_file_name');
  const config: Config = {
    file,
    agentAddress: agent.address,
    agentAddressSource: agent.source,
    certDir: certDir ?? '',
    x509,
    jwtSvids,
    jwtBundleFileName,
    jwtBundleFormat: oneOf(r, 'jwt_bundle_format', JWT_BUNDLE_FORMATS, 'go-helper'),
    hint: r.string('hint') ?? '',
    jwtSvidFileMode: r.mode('jwt_svid_file_mode', 0o600),
    jwtBundleFileMode: r.mode('jwt_bundle_file_mode', 0o600),
    daemonMode: r.bool('daemon_mode', true),
    cmd: readCmd(r),
    renewSignal: readSignal(r),
    pidFileName: r.nonEmptyString('pid_file_name'),
    health: readHealth(r),
    logLevel: oneOf(r, 'log_level', LOG_LEVELS, 'info'),
    logFormat: oneOf(r, 'log_format', LOG_FORMATS, 'text'),
  };
  r.rejectUnknown();

  if (!x509 && jwtSvids.length === 0 && !jwtBundleFileName) {
    throw r.error(
      'svid_file_name',
      'nothing to write: set svid_file_name, svid_key_file_name and svid_bundle_file_name, or jwt_svids, or jwt_bundle_file_name',
    );
  }
  if (certDir === undefined) throw r.error('cert_dir', 'is required: the directory the files are written to');
  if (config.renewSignal && !config.cmd && !config.pidFileName) throw r.error('renew_signal', 'is set but neither cmd nor pid_file_name is');
  if (config.pidFileName && !config.renewSignal) throw r.error('pid_file_name', 'needs renew_signal: the signal to send to that process');
  if (config.cmd && !config.renewSignal && config.cmd.restartPolicy !== 'never') {
    throw r.error('cmd_restart_policy', 'applies to a long-lived cmd (set renew_signal); without renew_signal cmd is a reload command run once per rotation');
  }
  // svid_file_name may equal svid_key_file_name (one combined file); no other two may collide.
  const names = [x509?.svidFileName, x509?.bundleFileName, jwtBundleFileName, ...jwtSvids.map((j) => j.fileName)];
  const seen = new Set<string>();
  for (const n of names) {
    if (n === undefined) continue;
    if (seen.has(n)) throw r.error('cert_dir', `two outputs would write the same file "${n}"`);
    seen.add(n);
  }
  checkJwtBundleFormat(r, config);
  checkPerDomainPatterns(r, config);
  return config;
}

/**
 * `jwks` writes one file per trust domain; it needs the placeholder exactly then.
 */
function checkJwtBundleFormat(r: TableReader, config: Config): void {
  const pattern = config.jwtBundleFileName;
  const key = 'jwt_bundle_file_name';
  if (config.jwtBundleFormat === 'go-helper') {
    if (pattern?.includes('{trust_domain}')) throw r.error(key, '{trust_domain} is only replaced with jwt_bundle_format = "jwks"');
    return;
  }
  if (pattern === undefined) throw r.error('jwt_bundle_format', 'is "jwks" but jwt_bundle_file_name is not set');
  const parts = pattern.split('{trust_domain}');
  if (parts.length !== 2 || pattern === '{trust_domain}') {
    throw r.error(key, 'with jwt_bundle_format = "jwks" must contain {trust_domain} once, with a prefix or suffix, e.g. "jwt_bundle_{trust_domain}.json"');
  }
}

/**
 * Per-trust-domain outputs delete the files of domains that go away, found by the pattern's
 * prefix and suffix: no other output may match a pattern, or it would be deleted as stale.
 */
function checkPerDomainPatterns(r: TableReader, config: Config): void {
  const patterns: [string, string][] = [];
  if (config.x509?.federatedBundleFileName) patterns.push(['federated_bundle_file_name', config.x509.federatedBundleFileName]);
  if (config.jwtBundleFormat === 'jwks' && config.jwtBundleFileName) patterns.push(['jwt_bundle_file_name', config.jwtBundleFileName]);
  const fixed = [config.x509?.svidFileName, config.x509?.keyFileName, config.x509?.bundleFileName, ...config.jwtSvids.map((j) => j.fileName)];
  for (const [key, pattern] of patterns) {
    const [prefix, suffix] = pattern.split('{trust_domain}') as [string, string];
    const clash = fixed.find((n) => n !== undefined && n.length > prefix.length + suffix.length && n.startsWith(prefix) && n.endsWith(suffix));
    if (clash) throw r.error(key, `pattern ${JSON.stringify(pattern)} also matches "${clash}", which would be deleted as a stale per-trust-domain file`);
  }
  if (patterns.length === 2) {
    const [[, a], [key, b]] = patterns as [[string, string], [string, string]];
    const [p1, s1] = a.split('{trust_domain}') as [string, string];
    const [p2, s2] = b.split('{trust_domain}') as [string, string];
    if ((p1.startsWith(p2) || p2.startsWith(p1)) && (s1.endsWith(s2) || s2.endsWith(s1))) {
      throw r.error(key, `pattern ${JSON.stringify(b)} overlaps federated_bundle_file_name ${JSON.stringify(a)}: give them different prefixes or suffixes`);
    }
  }
}

function readX509(r: TableReader): X509Output | undefined {
  const svid = fileName(r, 'svid_file_name');
  const key = fileName(r, 'svid_key_file_name');
  const bundle = fileName(r, 'svid_bundle_file_name');
  const options = {
    addIntermediatesToBundle: r.bool('add_intermediates_to_bundle', false),
    includeFederatedDomains: r.bool('include_federated_domains', false),
    federatedBundleFileName: fileName(r, 'federated_bundle_file_name'),
    omitExpired: r.bool('omit_expired', false),
    hint: r.string('hint') ?? '',
    layout: oneOf(r, 'file_layout', FILE_LAYOUTS, 'files'),
    certFileMode: r.mode('cert_file_mode', 0o644),
    keyFileMode: r.mode('key_file_mode', 0o600),
  };
  const given = [svid, key, bundle].filter((x) => x !== undefined).length;
  if (given === 0) {
    if (options.federatedBundleFileName) throw r.error('federated_bundle_file_name', 'needs svid_file_name, svid_key_file_name and svid_bundle_file_name');
    return undefined;
  }
  if (given !== 3) {
    const missing = (['svid_file_name', 'svid_key_file_name', 'svid_bundle_file_name'] as const).find(
      (k, i) => [svid, key, bundle][i] === undefined,
    )!;
    throw r.error(missing, 'is required when any of svid_file_name, svid_key_file_name and svid_bundle_file_name is set');
  }
  const pattern = options.federatedBundleFileName;
  // A prefix or suffix is required: stale per-domain files are found by it and deleted.
  if (pattern !== undefined && (!pattern.includes('{trust_domain}') || pattern === '{trust_domain}')) {
    throw r.error('federated_bundle_file_name', 'must contain {trust_domain} and a prefix or suffix, e.g. "federated_{trust_domain}.pem"');
  }
  if (bundle === svid || bundle === key) throw r.error('svid_bundle_file_name', 'must differ from svid_file_name and svid_key_file_name');
  return { svidFileName: svid!, keyFileName: key!, bundleFileName: bundle!, ...options };
}

function readJwtSvid(t: TableReader): JwtSvidOutput {
  const audience = t.nonEmptyString('jwt_audience');
  const file = fileName(t, 'jwt_svid_file_name');
  const extra = t.stringArray('jwt_extra_audiences') ?? [];
  t.rejectUnknown();
  if (audience === undefined) throw t.error('jwt_audience', 'is required');
  if (file === undefined) throw t.error('jwt_svid_file_name', 'is required');
  return { audience, extraAudiences: extra, fileName: file };
}

function readCmd(r: TableReader): Config['cmd'] {
  const cmd = r.nonEmptyString('cmd');
  const raw = r.raw('cmd_args');
  const policy = oneOf(r, 'cmd_restart_policy', RESTART_POLICIES, 'never');
  const graceText = r.string('cmd_stop_grace_period');
  let args: string[] = [];
  if (typeof raw === 'string') {
    try {
      args = splitCmdArgs(raw);
    } catch (e) {
      throw r.error('cmd_args', (e as Error).message);
    }
  } else if (Array.isArray(raw) && raw.every((a) => typeof a === 'string')) {
    args = raw;
  } else if (raw !== undefined) {
    throw r.error('cmd_args', 'must be a string ("-a \\"b c\\"") or an array of strings (["-a", "b c"])');
  }
  let stopGraceMs = 10_000;
  if (graceText !== undefined) {
    try {
      stopGraceMs = parseDuration(graceText);
    } catch (e) {
      throw r.error('cmd_stop_grace_period', (e as Error).message);
    }
  }
  if (cmd === undefined) {
    for (const key of ['cmd_args', 'cmd_restart_policy', 'cmd_stop_grace_period']) {
      if (r.has(key)) throw r.error(key, 'is set but cmd is not');
    }
    return undefined;
  }
  return { path: cmd, args, restartPolicy: policy, stopGraceMs };
}

function readSignal(r: TableReader): NodeJS.Signals | undefined {
  const name = r.nonEmptyString('renew_signal');
  if (name === undefined) return undefined;
  if (name in constants.signals) return name as NodeJS.Signals;
  const guess = name.toUpperCase().startsWith('SIG') ? name.toUpperCase() : `SIG${name.toUpperCase()}`;
  const hint = guess in constants.signals ? `; did you mean "${guess}"?` : ' (e.g. "SIGHUP", "SIGUSR1")';
  throw r.error('renew_signal', `"${name}" is not a signal name${hint}`);
}

function readHealth(r: TableReader): HealthConfig {
  const h = r.subtable('health_checks');
  const path = (key: string, fallback: string): string => {
    const v = h?.string(key) ?? fallback;
    if (!v.startsWith('/')) throw h!.error(key, `must start with "/", got ${JSON.stringify(v)}`);
    return v;
  };
  const health: HealthConfig = {
    enabled: h?.bool('listener_enabled', false) ?? false,
    bindAddress: h?.nonEmptyString('bind_address') ?? '127.0.0.1',
    port: h?.int('bind_port', 8081, 0, 65535) ?? 8081,
    livenessPath: path('liveness_path', '/live'),
    readinessPath: path('readiness_path', '/ready'),
    metricsEnabled: h?.bool('metrics_enabled', false) ?? false,
  };
  h?.rejectUnknown();
  if (health.metricsEnabled && !health.enabled) throw h!.error('metrics_enabled', 'metrics are served by the health listener: set listener_enabled = true too');
  for (const key of ['liveness_path', 'readiness_path'] as const) {
    const p = key === 'liveness_path' ? health.livenessPath : health.readinessPath;
    if (health.metricsEnabled && p === METRICS_PATH) throw h!.error(key, `must not be ${METRICS_PATH} when metrics_enabled = true`);
  }
  return health;
}

function fileName(r: TableReader, key: string): string | undefined {
  const v = r.nonEmptyString(key);
  if (v !== undefined && (v.includes('/') || v === '.' || v === '..')) {
    throw r.error(key, `must be a file name inside cert_dir, not a path: ${JSON.stringify(v)}`);
  }
  return v;
}

function oneOf<T extends string>(r: TableReader, key: string, allowed: readonly T[], fallback: T): T {
  const v = r.string(key);
  if (v === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(v)) throw r.error(key, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}
