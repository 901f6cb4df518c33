/**
 * Prints the table of differences between the Go spiffe-helper v0.11.0 and ours on the Go
 * configuration corpus (test/fixtures/go-configs/), or on the files named:
 *
 *   npm run build && node --import tsx test/differential/run.ts [NAME.conf ...]
 */
import { rmSync } from 'node:fs';
import { compareAll, corpus, documented, goHelperBinary, matches, startAgents, table, tempRoot, type Difference } from './harness.js';

const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : corpus();
const root = tempRoot();
const go = goHelperBinary();
const agents = await startAgents(root);
const all: Difference[] = [];
try {
  for (const diffs of (await compareAll(names, go, agents, root)).values()) all.push(...diffs);
} finally {
  await agents.close();
  if (process.env.KEEP) process.stderr.write(`kept ${root}\n`);
  else rmSync(root, { recursive: true, force: true });
}
const docs = documented();
const undocumented = all.filter((d) => !docs.some((doc) => matches(doc, d)));
process.stdout.write(`${table(all)}\n\n${undocumented.length} not in test/differential/documented-differences.json${undocumented.length ? `:\n${table(undocumented)}` : ''}\n`);
