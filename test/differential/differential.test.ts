import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { compareInPrivateNetwork, corpus, documented, goHelperBinary, matches, table, tempRoot, type Difference } from './harness.js';

/**
 * The Go spiffe-helper v0.11.0 and ours, side by side on every config of the Go corpus
 * (test/fixtures/go-configs/): the differences must be exactly the documented ones.
 * Needs the Go toolchain (the reference is built once, cached outside the repo), dist/, and
 * unshare(1) with ip(8): the comparison runs in a network namespace of its own, since both
 * helpers listen on every interface for a Go config with health checks.
 */
const root = tempRoot();
let results: Map<string, Difference[]>;

before(async () => {
  goHelperBinary(); // built here, outside the namespace, where the Go module proxy is reachable
  results = await compareInPrivateNetwork(corpus(), root);
});

after(() => rmSync(root, { recursive: true, force: true, maxRetries: 5 }));

const docs = documented();

for (const name of corpus()) {
  test(`differential: ${name} differs from the Go helper only as documented`, () => {
    const diffs = results.get(name)!;
    const unexpected = diffs.filter((d) => !docs.some((doc) => matches(doc, d)));
    assert.equal(unexpected.length, 0, `differences not in documented-differences.json:\n${table(unexpected)}`);
    for (const doc of docs.filter((d) => d.configs.includes(name))) {
      assert.ok(
        diffs.some((d) => matches(doc, d)),
        `documented difference no longer seen on ${name} (remove it from the list): ${doc.key}: ${doc.reason}`,
      );
    }
  });
}

test('differential: every documented difference names its configs (or the test proving it), reason and fix', () => {
  const names = new Set(corpus());
  for (const doc of docs) {
    if (doc.proof) {
      assert.equal(doc.configs.length, 0, `${doc.title}: configs or a proof, not both`);
      const text = readFileSync(new URL(`../../${doc.proof.file}`, import.meta.url), 'utf8');
      assert.ok(text.includes(doc.proof.test), `${doc.title}: the proof ${doc.proof.file} has no test "${doc.proof.test}"`);
    } else {
      assert.ok(doc.configs.length > 0 && doc.configs.every((c) => names.has(c)), `configs of ${doc.key}`);
    }
    assert.ok(doc.reason.length > 20 && /^(issue \d+ item \d+|stays: )/.test(doc.fix), `reason and fix of ${doc.key}`);
  }
});
