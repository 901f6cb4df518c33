/**
 * HealthState's readiness against the disk, without a helper process: what a probe that lands
 * in the middle of the helper's own write sees.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, linkSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { HelperError } from '../../src/errors.js';
import { HealthState } from '../../src/health/state.js';
import { tempDir } from '../helpers/tmp.js';

const svid = { spiffeId: 'spiffe://example.org/w', serial: '01', notAfter: new Date(Date.now() + 3_600_000) };
const files = ['svid.pem', 'svid_key.pem', 'bundle.pem'];

function replaceAll(dir: string, content: string): void {
  for (const f of files) {
    writeFileSync(join(dir, `.${f}.tmp`), content);
    renameSync(join(dir, `.${f}.tmp`), join(dir, f));
  }
}

test("a probe during the helper's own write (files renamed in, not yet recorded) stays ready; the same change from someone else is not", () => {
  const dir = tempDir();
  const health = new HealthState({ certDir: dir, x509: true, jwtFiles: [] });
  replaceAll(dir, 'first');
  health.x509Written(svid, files);
  assert.equal(health.ready(), true);

  health.x509Writing();
  replaceAll(dir, 'second'); // renamed into place; the write has not returned yet
  assert.deepEqual(health.notReady(), [], 'our own write in flight is not "replaced behind our back"');
  health.x509Written({ ...svid, serial: '02' }, files);
  assert.equal(health.ready(), true);

  replaceAll(dir, 'someone else');
  assert.match(health.notReady().join(), /svid\.pem was deleted or replaced/);
});

test("a failed or unchanged write ends the in-flight window: a later change behind the helper's back is seen", () => {
  const dir = tempDir();
  const health = new HealthState({ certDir: dir, x509: true, jwtFiles: ['api.jwt'], jwtBundleFile: 'jwt.json' });
  replaceAll(dir, 'first');
  writeFileSync(join(dir, 'api.jwt'), 'token');
  writeFileSync(join(dir, 'jwt.json'), '{}');
  health.x509Written(svid, files);
  health.jwtWritten('api.jwt', new Date(Date.now() + 60_000), true);
  health.jwtBundleWritten(['jwt.json'], true);
  assert.equal(health.ready(), true);

  health.x509Writing();
  health.x509Failed('disk full');
  health.jwtWriting('api.jwt');
  health.jwtWritten('api.jwt', new Date(Date.now() + 60_000), false);
  health.jwtBundleWriting();
  health.jwtBundleFailed('disk full');
  replaceAll(dir, 'someone else');
  writeFileSync(join(dir, 'api.jwt'), 'another token');
  writeFileSync(join(dir, 'jwt.json'), '{"x":1}');
  const why = health.notReady().join('\n');
  assert.match(why, /x509 svid: svid\.pem was deleted or replaced/);
  assert.match(why, /jwt svid api\.jwt: api\.jwt was deleted or replaced/);
  assert.match(why, /jwt bundle: jwt\.json was deleted or replaced/);
});

test("the body is the Go helper's ({status, health: {file_write_statuses}}, JWT keys <cert_dir>/<file>) with ours beside it", () => {
  const dir = tempDir();
  const health = new HealthState({ certDir: dir, x509: true, jwtFiles: ['api.jwt', '/etc/jwts/aws.jwt'], jwtBundleFile: 'jwt.json' });
  const before = health.report(new Date(), 'ready');
  assert.equal(before['status'], 'Service Unavailable');
  assert.deepEqual(before['health'], {
    file_write_statuses: {
      x509_write_status: 'unwritten',
      jwt_write_status: { [`${dir}/api.jwt`]: 'unwritten', [`${dir}/etc/jwts/aws.jwt`]: 'unwritten', [`${dir}/jwt.json`]: 'unwritten' },
    },
  });
  assert.equal(health.report(new Date(), 'live')['status'], 'OK', 'status follows the probe asked');
  replaceAll(dir, 'first');
  writeFileSync(join(dir, 'api.jwt'), 'token');
  health.x509Written(svid, files);
  health.jwtWritten('api.jwt', new Date(Date.now() + 60_000), true);
  health.jwtFailed('/etc/jwts/aws.jwt', 'no such directory');
  const after = health.report(new Date(), 'ready');
  const go = (after['health'] as { file_write_statuses: { x509_write_status: string; jwt_write_status: Record<string, string> } }).file_write_statuses;
  assert.equal(go.x509_write_status, 'written');
  assert.equal(go.jwt_write_status[`${dir}/api.jwt`], 'written');
  assert.equal(go.jwt_write_status[`${dir}/etc/jwts/aws.jwt`], 'failed');
  assert.ok('file_write_statuses' in after && 'ready' in after, "our fields stay beside Go's");
});

test('without cert_dir (".") the Go keys are the file names as written, absolute ones included; no X.509 output, no x509 status', () => {
  const health = new HealthState({ certDir: '.', x509: false, jwtFiles: ['api.jwt', '/etc/jwts/aws.jwt'] });
  const go = (health.report()['health'] as { file_write_statuses: Record<string, unknown> }).file_write_statuses;
  assert.deepEqual(go, { x509_write_status: undefined, jwt_write_status: { 'api.jwt': 'unwritten', '/etc/jwts/aws.jwt': 'unwritten' } });
  assert.equal(JSON.stringify(go).includes('x509_write_status'), false);
});

/**
 * Changes to a written file that keep what a cheap stat compares (inode, size, mtime) or that
 * only touch metadata: each is "not ready" unless the file is still as written.
 */
const inPlaceCases: { name: string; change: (path: string, dir: string) => void; ready: boolean }[] = [
  { name: 'chmod 000 (no longer readable by a non-root consumer)', change: (p) => chmodSync(p, 0), ready: false },
  { name: 'chmod 644 (the key readable by everyone)', change: (p) => chmodSync(p, 0o644), ready: false },
  {
    name: 'rewritten in place with content of the same size, mtime restored to the ns (touch -r)',
    change: (p, dir) => {
      execFileSync('cp', ['-p', p, join(dir, 'ref')]);
      const fd = openSync(p, 'r+');
      writeSync(fd, 'X');
      closeSync(fd);
      execFileSync('touch', ['-r', join(dir, 'ref'), p]);
    },
    ready: false,
  },
  { name: 'chown to another user (giving the key to the consumer)', change: (p) => chownSync(p, 65534, 65534), ready: true },
  { name: 'a hard link made to it', change: (p, dir) => linkSync(p, join(dir, 'backup')), ready: true },
  {
    name: 'the same content written again into the same inode with its mtime restored',
    change: (p, dir) => (execFileSync('cp', ['-p', p, join(dir, 'ref')]), writeFileSync(p, readFileSync(p)), execFileSync('touch', ['-r', join(dir, 'ref'), p])),
    ready: true,
  },
];

for (const c of inPlaceCases) {
  test(`readiness and a file changed in place: ${c.name} → ${c.ready ? 'ready' : 'not ready'}`, () => {
    const dir = tempDir();
    const health = new HealthState({ certDir: dir, x509: true, jwtFiles: [] });
    replaceAll(dir, 'first');
    for (const f of files) chmodSync(join(dir, f), 0o600);
    health.x509Written(svid, files);
    assert.equal(health.ready(), true);
    c.change(join(dir, 'svid_key.pem'), dir);
    if (c.ready) assert.deepEqual(health.notReady(), []);
    else assert.match(health.notReady().join(), /x509 svid: svid_key\.pem was deleted or replaced/);
  });
}

test('every streamed message the client could not use is counted as refused, by its reason (an unexpected error of the helper too)', () => {
  const health = new HealthState({ certDir: tempDir(), x509: true, jwtFiles: [] });
  health.refused('FetchX509SVID', new HelperError('x509svid', 'x509svid: the key does not match', { reason: 'chain_untrusted' }));
  health.refused('FetchX509SVID', new HelperError('internal', 'TypeError: cannot read properties of undefined'));
  health.refused('FetchJWTBundles', new HelperError('output', 'cannot render', { reason: 'bad_file_name' }));
  const text = health.metrics.render();
  for (const reason of ['chain_untrusted', 'internal', 'bad_file_name']) assert.match(text, new RegExp(`^spiffe_helper_refused_updates_total\\{reason="${reason}"\\} 1$`, 'm'));
  assert.match(String(health.report()['last_error']), /cannot render/);
});
