import { inspectJwtBundles, inspectJwtSvid } from './jwt.js';
import { inspectStores, type StoreReport, type StoreTarget } from './keystore.js';
import { inspectX509 } from './x509.js';

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

/** Reads and checks every target. Never throws for what it finds: that goes into `problems`. */
export async function inspect(targets: Targets, now: Date = new Date()): Promise<InspectReport> {
  const report: InspectReport = { ok: true, problems: [], warnings: [], x509_svid: undefined, bundles: [], jwt_svids: [], jwt_bundles: [], stores: [] };
  const problem = (m: string): void => void report.problems.push(m);
  if (targets.x509) await inspectX509(targets.x509, targets.certDir, report, now);
  await inspectStores(targets.stores, report, now);
  const bundles = targets.jwtBundle ? await inspectJwtBundles(targets.jwtBundle, targets.certDir, report) : undefined;
  for (const t of targets.jwtSvids) report.jwt_svids.push(await inspectJwtSvid(t, bundles, report, now));
  if (!targets.x509 && targets.jwtSvids.length === 0 && !targets.jwtBundle && targets.stores.length === 0) problem('nothing to inspect');
  report.ok = report.problems.length === 0;
  return report;
}
