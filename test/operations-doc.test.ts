import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from './helpers/tmp.js';

const doc = readFileSync(new URL('../docs/operations.md', import.meta.url), 'utf8');

test('docs/operations.md: the alert rules pass promtool check rules and use only the documented metrics', () => {
  const rules = /^### Alerts\n[\s\S]*?^```yaml\n([\s\S]*?)^```/m.exec(doc)?.[1];
  assert.ok(rules, 'an Alerts section with a yaml block');
  const file = join(tempDir('alerts-'), 'rules.yml');
  writeFileSync(file, rules);
  const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
  assert.ok(!r.error, `promtool is needed (scripts/install-test-deps.sh installs it): ${r.error?.message}`);
  assert.equal(r.status, 0, `promtool check rules: ${r.stdout}${r.stderr}`);
  const documented = new Set([...doc.matchAll(/^\| `(spiffe_helper_\w+)/gm)].map((m) => m[1]));
  for (const [name] of rules.matchAll(/spiffe_helper_\w+/g)) assert.ok(documented.has(name), `${name} is in the metrics table`);
});
