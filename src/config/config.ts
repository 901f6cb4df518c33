/**
 * The validated configuration. normalizeConfig (normalize.ts), with the readers it calls
 * beside it in config/, is the only place that decides a rule across keys, and schema.ts the
 * only one that holds a default; everything downstream trusts these values.
 */
import type { LogFormat, LogLevel } from '../log.js';
import type { EndpointAddress } from '../workload/address.js';
import type { FileOwnership } from '../output/ownership.js';
import type { Dialect } from './go-config.js';
import type { StoreOutputs } from './keystore-output.js';
import type { OneOf, TOP_LEVEL_KEYS } from './schema.js';

/**
 * The PEM files' names go together: all three, or none when the X.509 outputs are only the
 * PKCS#12 stores (a JVM-only sidecar).
 */
export type PemFileNames = { svidFileName: string; keyFileName: string; bundleFileName: string } | { svidFileName?: undefined; keyFileName?: undefined; bundleFileName?: undefined };

export type X509Output = PemFileNames & X509Options;

export interface X509Options {
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
  /** PKCS#12 keystore and truststore for JVM servers, written with the PEM files (or alone). */
  stores?: StoreOutputs;
}

export type FileLayout = OneOf<typeof TOP_LEVEL_KEYS, 'file_layout'>;

export interface JwtSvidOutput {
  audience: string;
  extraAudiences: string[];
  fileName: string;
}

/** `go-helper`: one JSON file of base64 JWKS by trust domain; `jwks`: one plain JWKS file per trust domain. */
export type JwtBundleFormat = OneOf<typeof TOP_LEVEL_KEYS, 'jwt_bundle_format'>;

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

export type RestartPolicy = OneOf<typeof TOP_LEVEL_KEYS, 'cmd_restart_policy'>;

export interface HealthConfig {
  enabled: boolean;
  bindAddress: string;
  port: number;
  livenessPath: string;
  readinessPath: string;
  /** Ours: Prometheus text format on METRICS_PATH of the same listener. */
  metricsEnabled: boolean;
}

/** Where the health listener serves metrics; the probe paths must stay clear of it. */
export const METRICS_PATH = '/metrics';

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
  /** file_owner / file_group, resolved to ids: who owns the files written (output/ownership.ts). */
  fileOwnership: FileOwnership;
}

export interface ConfigWarning {
  key: string;
  message: string;
}
