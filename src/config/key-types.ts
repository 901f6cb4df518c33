/**
 * Every configuration key and the type of its value, for the readers that meet a key before
 * normalizeConfig does: the environment (SPIFFE_HELPER_*), which must type a string, and
 * convert-config, which must turn an HCL value into TOML. What a value may be is still
 * decided by normalizeConfig alone.
 */
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

/** Top-level keys, tables aside. The order is the one "did you mean" suggestions break ties by. */
export const TOP_LEVEL_KEYS: Readonly<Record<string, KeyType>> = {
  agent_address: 'string',
  cert_dir: 'string',
  svid_file_name: 'string',
  svid_key_file_name: 'string',
  svid_bundle_file_name: 'string',
  add_intermediates_to_bundle: 'bool',
  include_federated_domains: 'bool',
  federated_bundle_file_name: 'string',
  omit_expired: 'bool',
  hint: 'string',
  file_layout: 'string',
  update_quiet_period: 'string',
  renew_settle_period: 'string',
  cert_file_mode: 'mode',
  key_file_mode: 'mode',
  keystore_file_name: 'string',
  keystore_alias: 'string',
  keystore_password_file: 'string',
  keystore_password_env: 'string',
  keystore_format: 'string',
  truststore_file_name: 'string',
  truststore_password_file: 'string',
  truststore_password_env: 'string',
  truststore_include_federated_domains: 'bool',
  jwt_svids: 'jwt_svids',
  jwt_bundle_file_name: 'string',
  jwt_bundle_format: 'string',
  jwt_svid_file_mode: 'mode',
  jwt_bundle_file_mode: 'mode',
  daemon_mode: 'bool',
  cmd: 'string',
  cmd_args: 'cmd_args',
  renew_signal: 'string',
  cmd_restart_policy: 'string',
  cmd_stop_grace_period: 'string',
  pid_file_name: 'string',
  log_level: 'log_level',
  log_format: 'string',
};

/** Keys of one `jwt_svids` entry. */
export const JWT_SVID_KEYS: Readonly<Record<string, KeyType>> = {
  jwt_audience: 'string',
  jwt_extra_audiences: 'strings',
  jwt_svid_file_name: 'string',
};

/** Keys of the `[health_checks]` table. */
export const HEALTH_CHECKS_KEYS: Readonly<Record<string, KeyType>> = {
  listener_enabled: 'bool',
  bind_address: 'string',
  bind_port: 'int',
  liveness_path: 'string',
  readiness_path: 'string',
  metrics_enabled: 'bool',
};
