/**
 * Every configuration key, once: its TOML name, how every reader types its value, its default,
 * one line of documentation, its group, and whether the Go spiffe-helper reads it too. The
 * readers (TOML file, SPIFFE_HELPER_* environment, the Go helper's HCL and HCL-JSON) take the
 * keys and their types from here, normalizeConfig takes the defaults, and the README table,
 * helper.conf.example and docs/configuration.md are generated from it (`npm run docs`).
 * Adding a key is one entry here plus its use in normalizeConfig.
 */

/** How every reader types a key's value (TOML, environment, HCL). */
export type KeyType =
  | 'string'
  | 'bool'
  | 'int'
  /** A file mode: TOML octal `0o644`, or `"0644"` as Go helper configs write it. */
  | 'mode'
  | 'strings'
  /** A list of strings, or the Go helper's one-string form (`-c "a b"`). */
  | 'cmd_args'
  | 'log_level'
  /** An array of `{ jwt_audience, jwt_extra_audiences, jwt_svid_file_name }` tables. */
  | 'jwt_svids';

export type Group = 'agent' | 'x509' | 'keystore' | 'jwt' | 'mode' | 'program' | 'timing' | 'log' | 'health';

interface Common {
  kind: KeyType;
  group: Group;
  /** One line for the docs and the example file. */
  doc: string;
  /** The Go helper v0.11.0 reads this key too. */
  go: boolean;
  /** Where the Go helper reads it differently, for the migration notes of the reference. */
  goNote?: string;
  /** The type as the docs name it, when the kind alone says too little. */
  shown?: string;
  /** The default as the docs state it, when it is not a plain value of the key. */
  defaultShown?: string;
  /** A value for helper.conf.example (TOML text) when the key has no default to show. */
  example?: string;
  /** Set, not commented out, in helper.conf.example: what makes it a complete config. */
  active?: boolean;
}

export interface PlainSpec extends Common {
  default?: string | boolean | number;
}
export interface IntSpec extends Common {
  kind: 'int';
  default: number;
  min: number;
  max: number;
}
export interface EnumSpec extends Common {
  oneOf: readonly string[];
  default: string;
}
/** A duration string (`"500ms"`, `"2s"`); `max` the longest one accepted, when less than a timer's. */
export interface DurationSpec extends Common {
  kind: 'string';
  duration: true;
  default: string;
  max?: string;
}
export type KeySpec = PlainSpec | IntSpec | EnumSpec | DurationSpec;
export type Schema = Readonly<Record<string, KeySpec>>;

/** SPIRE's default agent socket: the address when neither agent_address nor SPIFFE_ENDPOINT_SOCKET is set. */
export const DEFAULT_AGENT_ADDRESS = 'unix:///tmp/spire-agent/public/api.sock';

/** Top-level keys, tables aside. The order is the one "did you mean" suggestions break ties by. */
export const TOP_LEVEL_KEYS = {
  agent_address: {
    kind: 'string',
    group: 'agent',
    go: true,
    doc: "Workload API endpoint: `unix:///abs/path`, `unix:/abs/path` (RFC 3986: `%20` is a space; the scheme's case does not matter), a bare `/abs/path` (taken literally), or `tcp://IP:port` (IPv6 in brackets). Refused with the reason: whitespace around the value, control characters, a socket path over 107 bytes (what `sun_path` holds)",
    defaultShown: `\`$SPIFFE_ENDPOINT_SOCKET\`, else \`${DEFAULT_AGENT_ADDRESS}\``,
    goNote: 'when not set, `SPIRE_AGENT_ADDRESS` is read (deprecated) if `SPIFFE_ENDPOINT_SOCKET` is not set; both set is an error',
    example: '"/tmp/spire-agent/public/api.sock"',
    active: true,
  },
  cert_dir: {
    kind: 'string',
    group: 'x509',
    go: true,
    doc: 'directory the files are written to, created if missing; one helper per `cert_dir`. File names may be paths, relative to it or absolute (joined to it as the Go helper does; as they are when it is not set)',
    defaultShown: 'working directory',
    goNote: '`""` or left out is the working directory, as in the Go helper',
    example: '"certs"',
    active: true,
  },
  svid_file_name: {
    kind: 'string',
    group: 'x509',
    go: true,
    doc: 'leaf certificate, then intermediates (PEM); the three X.509 names go together, or none is set (then only the PKCS#12 stores, JWT files or both are written)',
    example: '"svid.pem"',
    active: true,
  },
  svid_key_file_name: {
    kind: 'string',
    group: 'x509',
    go: true,
    doc: 'PKCS#8 `PRIVATE KEY`; may equal `svid_file_name` for one combined file (written with `key_file_mode`)',
    example: '"svid_key.pem"',
    active: true,
  },
  svid_bundle_file_name: {
    kind: 'string',
    group: 'x509',
    go: true,
    doc: "CA certificates of the SVID's own trust domain",
    example: '"bundle.pem"',
    active: true,
  },
  add_intermediates_to_bundle: { kind: 'bool', group: 'x509', go: true, default: false, doc: 'true: the SVID file holds the leaf only, intermediates go to the bundle' },
  include_federated_domains: {
    kind: 'bool',
    group: 'x509',
    go: true,
    default: false,
    doc: "append every federated trust domain's CAs to the bundle file (any federated CA can then vouch for local identities: prefer `federated_bundle_file_name`)",
  },
  federated_bundle_file_name: {
    kind: 'string',
    group: 'x509',
    go: false,
    doc: 'one bundle file per federated trust domain, `{trust_domain}` in the name; files of domains no longer federated are removed: only those the helper recorded writing (in `..spiffe-helper.written.<hash>.json` beside them, so after a restart too) and that are unchanged since; a file of that name it cannot prove it wrote is left alone',
    example: '"federated_{trust_domain}.pem"',
  },
  omit_expired: { kind: 'bool', group: 'x509', go: true, default: false, doc: "drop expired certificates from the files written: bundles, and the SVID's intermediates" },
  hint: { kind: 'string', group: 'x509', go: true, default: '', doc: 'pick the SVID (X.509 and JWT) with this hint when the agent sends several' },
  file_layout: {
    kind: 'string',
    group: 'x509',
    go: false,
    oneOf: ['files', 'atomic_dir'],
    default: 'files',
    doc: "how the X.509 set is replaced: each file atomically (`files`), or all at once through a `..data` symlink (`atomic_dir`, Kubernetes' atomic writer layout)",
  },
  // SPIRE's double pushes come 0.3-36 ms apart; nginx reloads in milliseconds.
  update_quiet_period: {
    kind: 'string',
    duration: true,
    default: '100ms',
    max: '5s',
    group: 'timing',
    go: false,
    doc: 'X.509 updates are written once the agent has been quiet this long, so a burst is one write and one signal',
  },
  renew_settle_period: {
    kind: 'string',
    duration: true,
    default: '1s',
    max: '60s',
    group: 'timing',
    go: false,
    doc: 'after a signal, a reload command or the start of `cmd`, the X.509 files stay unchanged this long',
  },
  cert_file_mode: { kind: 'mode', group: 'x509', go: true, default: 0o644, doc: 'mode of the certificate and bundle files: TOML octal `0o644`, or `"0644"`' },
  key_file_mode: { kind: 'mode', group: 'x509', go: true, default: 0o600, doc: 'mode of the private key file' },
  file_owner: {
    kind: 'string',
    group: 'x509',
    go: false,
    shown: 'user name or id',
    defaultShown: "the owner of the file replaced, else the helper's user",
    doc: 'owner of every file written (X.509 and JWT): a name from `/etc/passwd` or a numeric id; needs root or `CAP_CHOWN`',
    example: '"postgres"',
  },
  file_group: {
    kind: 'string',
    group: 'x509',
    go: false,
    shown: 'group name or id',
    defaultShown: "the group of the file replaced, else the helper's (or the directory's, when setgid: a pod's `fsGroup`)",
    doc: 'group of every file written: a name from `/etc/group` or a numeric id',
    example: '"ssl-cert"',
  },
  keystore_file_name: {
    kind: 'string',
    group: 'keystore',
    go: false,
    doc: 'PKCS#12 keystore for JVM servers: the key and its chain, written with the PEM files, or alone (mode `key_file_mode`; see docs/keystores.md)',
    example: '"keystore.p12"',
  },
  keystore_alias: { kind: 'string', group: 'keystore', go: false, default: 'spiffe', doc: "the keystore's key entry alias" },
  keystore_password_file: {
    kind: 'string',
    group: 'keystore',
    go: false,
    doc: "file holding the stores' password, printable ASCII (one trailing newline is dropped); read once at start; never in the config text",
    example: '"/run/secrets/keystore-password"',
  },
  keystore_password_env: { kind: 'string', group: 'keystore', go: false, doc: 'the environment variable holding the password, instead of `keystore_password_file`', example: '"KEYSTORE_PASSWORD"' },
  keystore_format: {
    kind: 'string',
    group: 'keystore',
    go: false,
    oneOf: ['pkcs12', 'pkcs12-legacy'],
    default: 'pkcs12',
    doc: 'both stores: AES-256 and HMAC-SHA-256 (Java 12+, 11.0.12+, 8u301+), or 3DES and HMAC-SHA-1 for older JVMs',
  },
  truststore_file_name: {
    kind: 'string',
    group: 'keystore',
    go: false,
    doc: "PKCS#12 truststore: the trust domain's CAs as trusted entries `<trust domain>-<n>` (mode `cert_file_mode`)",
    example: '"truststore.p12"',
  },
  truststore_password_file: { kind: 'string', group: 'keystore', go: false, defaultShown: "the keystore's", doc: "the truststore's own password file", example: '"/run/secrets/truststore-password"' },
  truststore_password_env: {
    kind: 'string',
    group: 'keystore',
    go: false,
    defaultShown: "the keystore's",
    doc: "the environment variable holding the truststore's own password",
    example: '"TRUSTSTORE_PASSWORD"',
  },
  truststore_include_federated_domains: { kind: 'bool', group: 'keystore', go: false, default: false, doc: "add every federated trust domain's CAs to the truststore" },
  jwt_svids: {
    kind: 'jwt_svids',
    group: 'jwt',
    go: true,
    defaultShown: '`[]`',
    doc: 'JWT-SVIDs to fetch, one table per token file: `{ jwt_audience, jwt_extra_audiences, jwt_svid_file_name }`',
    example: '[\n  { jwt_audience = "api.example.org", jwt_extra_audiences = ["other"], jwt_svid_file_name = "api.jwt" },\n]',
  },
  jwt_bundle_file_name: { kind: 'string', group: 'jwt', go: true, doc: 'JWT bundles of every trust domain, as `jwt_bundle_format` says', example: '"jwt_bundle.json"' },
  jwt_bundle_format: {
    kind: 'string',
    group: 'jwt',
    go: false,
    oneOf: ['go-helper', 'jwks'],
    default: 'go-helper',
    doc: '`go-helper`: `{"<trust domain>": "<base64 JWKS>"}` as the Go helper writes; `jwks`: one plain JWKS file per trust domain, `jwt_bundle_file_name` then holds `{trust_domain}` (files of departed domains are removed as for `federated_bundle_file_name`)',
  },
  jwt_svid_file_mode: { kind: 'mode', group: 'jwt', go: true, default: 0o600, doc: 'mode of the JWT-SVID files' },
  jwt_bundle_file_mode: { kind: 'mode', group: 'jwt', go: true, default: 0o600, doc: 'mode of the JWT bundle file(s)' },
  daemon_mode: { kind: 'bool', group: 'mode', go: true, default: true, doc: 'false: fetch, write and exit (same as `--once`)' },
  cmd: {
    kind: 'string',
    group: 'program',
    go: true,
    doc: 'program to start once the first identity is on disk (with `renew_signal`), or reload command run after each rotation (without)',
    example: '"/usr/sbin/nginx"',
  },
  cmd_args: {
    kind: 'cmd_args',
    group: 'program',
    go: true,
    shown: 'array or string',
    defaultShown: '`[]`',
    doc: 'arguments of `cmd`: a TOML array, or the Go helper\'s string form (`"-c \\"a b\\""`: spaces split, double quotes group)',
    example: '["-g", "daemon off;"]',
  },
  renew_signal: {
    kind: 'string',
    group: 'program',
    go: true,
    shown: 'signal name',
    doc: 'sent to `cmd` (or to the process of `pid_file_name`) after each rotation, e.g. `"SIGHUP"`',
    example: '"SIGHUP"',
  },
  cmd_restart_policy: {
    kind: 'string',
    group: 'program',
    go: false,
    oneOf: ['never', 'on-failure', 'always', 'next-rotation'],
    default: 'never',
    doc: "what to do when a wrapped `cmd` exits: exit with its code (`never`), start it again at once (`on-failure`, `always`), or at the next rotation (`next-rotation`, the Go helper's behaviour)",
    defaultShown: '`"never"`; `"next-rotation"` for an HCL or HCL-JSON config',
    goNote: 'the Go helper starts an exited program again at the next rotation: an HCL or HCL-JSON config gets `next-rotation`',
  },
  cmd_stop_grace_period: {
    kind: 'string',
    duration: true,
    default: '10s',
    group: 'program',
    go: false,
    doc: 'time between the stop signal and SIGKILL for a stopping `cmd`',
  },
  pid_file_name: {
    kind: 'string',
    group: 'program',
    go: true,
    doc: "signal the process of this pid file with `renew_signal` (read only if nobody but the helper's user or root can write it)",
    example: '"/run/nginx.pid"',
  },
  log_level: {
    kind: 'log_level',
    group: 'log',
    go: true,
    oneOf: ['debug', 'info', 'warn', 'error'],
    default: 'info',
    doc: 'the least severe events logged',
    goNote: "logrus' levels are read as the nearest of ours (`trace` is `debug`, `fatal` is `error`)",
  },
  log_format: { kind: 'string', group: 'log', go: false, oneOf: ['text', 'json'], default: 'text', doc: 'one line per event on stderr, as text or JSON' },
} as const satisfies Schema;

/** Keys of one `jwt_svids` entry. */
export const JWT_SVID_KEYS = {
  jwt_audience: { kind: 'string', group: 'jwt', go: true, doc: 'the audience the token is fetched for (required)', example: '"api.example.org"' },
  jwt_extra_audiences: {
    kind: 'strings',
    group: 'jwt',
    go: true,
    defaultShown: '`[]`',
    doc: 'more audiences of the same token',
    goNote: 'the Go helper drops them in one-shot mode',
    example: '["other"]',
  },
  jwt_svid_file_name: { kind: 'string', group: 'jwt', go: true, doc: 'the file holding the raw token (required)', example: '"api.jwt"' },
} as const satisfies Schema;

/** Keys of the `[health_checks]` table. */
export const HEALTH_CHECKS_KEYS = {
  listener_enabled: { kind: 'bool', group: 'health', go: true, default: false, doc: 'serve the health probes over HTTP' },
  bind_address: {
    kind: 'string',
    group: 'health',
    go: false,
    default: '127.0.0.1',
    doc: 'address the listener binds; `0.0.0.0` for the kubelet to probe the pod',
    goNote: 'the Go helper listens on every interface: an HCL or HCL-JSON config without it gets `0.0.0.0`',
  },
  bind_port: { kind: 'int', group: 'health', go: true, default: 8081, min: 0, max: 65535, doc: 'port of the listener', goNote: 'in HCL and HCL-JSON `0` is 8081, as in the Go helper' },
  liveness_path: { kind: 'string', group: 'health', go: true, default: '/live', doc: "200 while the helper's own loops run" },
  readiness_path: { kind: 'string', group: 'health', go: true, default: '/ready', doc: '200 while every output on disk is written, unexpired and unredacted' },
  metrics_enabled: { kind: 'bool', group: 'health', go: false, default: false, doc: 'Prometheus text format on `/metrics` of the same listener' },
} as const satisfies Schema;

/** Tables whose keys are set one by one (`[health_checks]`, `SPIFFE_HELPER_HEALTH_CHECKS_<KEY>`). */
export const TABLES: Readonly<Record<string, Schema>> = { health_checks: HEALTH_CHECKS_KEYS };

export const ENV_PREFIX = 'SPIFFE_HELPER_';

/** The variable that sets a dotted key: `health_checks.bind_port` → `SPIFFE_HELPER_HEALTH_CHECKS_BIND_PORT`. */
export function envVarName(dottedKey: string): string {
  return ENV_PREFIX + dottedKey.replace('.', '_').toUpperCase();
}

/** Every key the environment can set, dotted for table keys (`health_checks.bind_port`). */
export function envConfigKeys(): string[] {
  return [...Object.keys(TOP_LEVEL_KEYS), ...Object.entries(TABLES).flatMap(([t, keys]) => Object.keys(keys).map((k) => `${t}.${k}`))];
}

/** The values an enum key takes, typed: `OneOf<typeof TOP_LEVEL_KEYS, 'file_layout'>` is `'files' | 'atomic_dir'`. */
export type OneOf<S extends Schema, K extends keyof S> = S[K] extends { oneOf: readonly (infer V)[] } ? V : never;
