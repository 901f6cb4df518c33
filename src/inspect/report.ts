import type { InspectReport, Targets } from './document.js';
import { inspectJwtBundles, inspectJwtSvid } from './jwt.js';
import { inspectStores } from './keystore.js';
import { inspectX509 } from './x509.js';

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
