/**
 * Prints the table of differences between the Go spiffe-helper v0.11.0 and ours on the Go
 * configuration corpus (test/fixtures/go-configs/), or on the files named:
 *
 *   npm run build && node --import tsx test/differential/run.ts [NAME.conf ...]
 *
 * `--json FILE` writes the differences per config to FILE instead (what the test reads). Go
 * configs with health checks listen on every interface (the Go helper has no bind address), so
 * run it in a network namespace of its own, as the test does (harness.ts, inPrivateNetwork).
 */
import { rmSync, writeFileSync } from 'node:fs';
import { compareAll, corpus, documented, goHelperBinary, matches, startAgents, table, tempRoot, type Difference } from './harness.js';

const args = process.argv.slice(2);
const jsonAt = args.indexOf('--json');
const jsonFile = jsonAt >= 0 ? args.splice(jsonAt, 2)[1] : undefined;
const names = args.length > 0 ? args : corpus();
const root = tempRoot();
const go = goHelperBinary();
const agents = await startAgents(root);
let results: Map<string, Difference[]>;
try {
  results = await compareAll(names, go, agents, root);
} finally {
  await agents.close();
  if (process.env.KEEP) process.stderr.write(`kept ${root}\n`);
  else rmSync(root, { recursive: true, force: true, maxRetries: 5 });
}
if (jsonFile) {
  writeFileSync(jsonFile, JSON.stringify([...results]));
} else {
  const all = [...results.values()].flat();
  const docs = documented();
  const undocumented = all.filter((d) => !docs.some((doc) => matches(doc, d)));
  process.stdout.write(`${table(all)}\n\n${undocumented.length} not in test/differential/documented-differences.json${undocumented.length ? `:\n${table(undocumented)}` : ''}\n`);
}
