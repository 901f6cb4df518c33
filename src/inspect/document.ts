/** The inspect command's targets and its `--json` document: types only, shared by the inspectors. */

/** What to inspect: absolute file names, or names relative to `certDir`. */
export interface Targets {
  certDir: string;
  x509?: { svid: string; key: string; bundle: string; federatedPattern?: string };
  jwtSvids: { file: string; audience?: string }[];
  /** A go-helper bundle file, or a `{trust_domain}` pattern of JWKS files. */
  jwtBundle?: { file: string; pattern: boolean };
  /** PKCS#12 keystore and truststore, with their passwords when known. */
  stores: StoreTarget[];
}

export interface ChainReport {
  verified: boolean;
  detail: string;
}

export interface X509Report {
  file: string;
  key_file: string;
  spiffe_id?: string;
  serial: string;
  subject: string;
  issuer: string;
  not_before: string;
  not_after: string;
  seconds_left: number;
  expired: boolean;
  intermediates: number;
  key_matches: boolean | null;
  chain: ChainReport;
}

export interface BundleReport {
  file: string;
  certificates: number;
  /** CA count by trust domain; CAs without a SPIFFE URI SAN under "(none)". */
  trust_domains: Record<string, number>;
  expired: number;
}

export interface JwtSvidReport {
  file: string;
  spiffe_id?: string;
  audience?: string[];
  issued_at?: string;
  expiry?: string;
  seconds_left?: number;
  expired?: boolean;
  alg?: string;
  kid?: string;
  /** `verified`, `not checked (...)`, or why it failed. */
  signature: string;
}

export interface JwtBundleReport {
  file: string;
  /** Key count by trust domain. */
  trust_domains: Record<string, number>;
}

/** The `--json` document: its field names are part of the command's interface. */
export interface InspectReport {
  ok: boolean;
  problems: string[];
  warnings: string[];
  x509_svid?: X509Report;
  bundles: BundleReport[];
  jwt_svids: JwtSvidReport[];
  jwt_bundles: JwtBundleReport[];
  stores: StoreReport[];
}

export interface StoreTarget {
  kind: 'keystore' | 'truststore';
  file: string;
  password?: string;
  /** Why the config's password could not be read: its error, naming the key and the file or variable. */
  passwordUnreadable?: string;
  /** The alias the key must have (the config's keystore_alias). */
  alias?: string;
}

export interface StoreReport {
  file: string;
  kind: 'keystore' | 'truststore';
  /** `verified (HMAC-SHA-256, 10000 iterations)`, or why it was not. */
  integrity: string;
  keys: StoreKeyReport[];
  trusted: TrustedCaReport[];
  /** What could not be checked without the password. */
  unchecked: string[];
  /** Set when the config names a password that could not be read: why. */
  password_unreadable?: string;
}

export interface StoreKeyReport {
  alias?: string;
  spiffe_id?: string;
  serial?: string;
  not_before?: string;
  not_after?: string;
  seconds_left?: number;
  expired?: boolean;
  /** Subjects, leaf first. */
  chain: string[];
  /** null: not checked (no password). */
  key_matches: boolean | null;
  /** Against the truststore inspected alongside. */
  chain_verified?: ChainReport;
}

export interface TrustedCaReport {
  alias?: string;
  subject: string;
  trust_domain?: string;
  not_after: string;
  expired: boolean;
}
