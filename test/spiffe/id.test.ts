import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isHelperError } from '../../src/errors.js';
import { SpiffeId, TrustDomain } from '../../src/spiffe/id.js';
import { vectors } from '../helpers/vectors.js';

for (const v of vectors.spiffe_id) {
  test(`SpiffeId.parse ${JSON.stringify(v.in)} is ${v.valid ? 'valid' : 'invalid'}${v.note ? ` (${v.note})` : ''}`, () => {
    if (v.valid) {
      assert.equal(SpiffeId.parse(v.in).toString(), v.in);
    } else {
      assert.throws(
        () => SpiffeId.parse(v.in),
        (e) => isHelperError(e, 'spiffe-id'),
      );
    }
  });
}

test('SpiffeId splits trust domain and path', () => {
  const id = SpiffeId.parse('spiffe://example.org/ns/prod/sa/api');
  assert.equal(id.trustDomain.name, 'example.org');
  assert.equal(id.path, '/ns/prod/sa/api');
  assert.equal(id.hasPath, true);
  assert.equal(SpiffeId.parse('spiffe://example.org').hasPath, false);
});

test('SpiffeId accepts 2048 bytes and rejects more', () => {
  const base = 'spiffe://example.org/';
  const ok = base + 'a'.repeat(2048 - base.length);
  assert.equal(SpiffeId.parse(ok).toString().length, 2048);
  assert.throws(() => SpiffeId.parse(ok + 'a'), /longer than 2048/);
});

test('TrustDomain.parse accepts a name or a trust domain ID', () => {
  assert.equal(TrustDomain.parse('example.org').id, 'spiffe://example.org');
  assert.equal(TrustDomain.parse('spiffe://example.org').name, 'example.org');
  assert.throws(() => TrustDomain.parse('Example.org'), /lower-case/);
  assert.throws(() => TrustDomain.parse(''), /missing/);
});
