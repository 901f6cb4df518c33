import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DELIBERATE_DIFFERENCES } from '../../src/config/go/differences.js';
import { documented } from './harness.js';

/**
 * The README's "What behaves differently" (under "Migrating from the Go spiffe-helper") is the
 * list the differential test enforces (documented-differences.json), bullet for entry, in order;
 * the start-up log and convert-config say the same differences under the same titles.
 */
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

function readmeList(): string[] {
  const section = README.slice(README.indexOf('## Migrating from the Go spiffe-helper'));
  // Up to the next heading.
  const body = section.slice(section.indexOf('### What behaves differently') + 1).split(/\n#{2,3} /)[0]!;
  return [...body.matchAll(/^- \*\*(.+?)\.\*\* /gm)].map((m) => m[1]!);
}

test('README "What behaves differently" lists exactly the documented differences, in order', () => {
  const titles = readmeList();
  assert.ok(titles.length > 0, 'the README section has its list');
  assert.deepEqual(
    titles,
    documented().map((d) => d.title),
  );
});

test('the differences said at start-up and by convert-config are the documented ones, under the same titles', () => {
  assert.deepEqual(
    DELIBERATE_DIFFERENCES.map((d) => d.title).sort(),
    documented()
      .map((d) => d.title)
      .sort(),
  );
});

test('the README says plainly that single-file subPath mounts and inode watchers must use the directory', () => {
  assert.match(README, /\*\*Single-file `subPath` mounts and readers that watch a file's inode must mount or watch the\s+directory instead\*\*/);
});
