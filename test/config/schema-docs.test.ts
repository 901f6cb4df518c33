import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { HEALTH_CHECKS_KEYS, JWT_SVID_KEYS, TOP_LEVEL_KEYS } from '../../src/config/schema.js';
import { exampleFile, renderedDocs } from '../../scripts/gen-config-docs.js';

const ROOT = new URL('../../', import.meta.url);

for (const [path, expected] of renderedDocs()) {
  test(`${path} is what npm run docs renders from src/config/schema.ts`, () => {
    const actual = readFileSync(new URL(path, ROOT), 'utf8');
    assert.ok(actual === expected, `${path} is out of date with src/config/schema.ts: run npm run docs`);
  });
}

test('helper.conf.example with every key uncommented loads: the reader knows every key of the schema, and their defaults and examples are valid', () => {
  const text = exampleFile()
    .split('\n')
    .map((l) => l.replace(/^# (?=[a-z_]+ = |\[health_checks\]|  \{ |\]$)/, ''))
    .join('\n');
  const config = parseConfig(text, 'every-key.conf', {});
  assert.equal(config.jwtSvids.length, 1);
  assert.equal(config.health.bindAddress, '127.0.0.1');
  for (const key of Object.keys(TOP_LEVEL_KEYS)) assert.match(text, new RegExp(`^${key} = `, 'm'), `${key} is set`);
  for (const key of Object.keys(HEALTH_CHECKS_KEYS)) assert.match(text, new RegExp(`^${key} = `, 'm'), `health_checks.${key} is set`);
  for (const key of Object.keys(JWT_SVID_KEYS)) assert.match(text, new RegExp(`\\b${key} = `), `jwt_svids[].${key} is set`);
});

test('a key the schema does not know is still an unknown key naming file and line', () => {
  assert.throws(() => parseConfig(`${exampleFile()}\ncert_dirs = "x"\n`, 'helper.conf', {}), /^HelperError: helper\.conf:\d+: cert_dirs: unknown key$/);
});
