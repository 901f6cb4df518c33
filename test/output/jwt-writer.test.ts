import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger, silentLogger } from '../../src/log.js';
import { JwtWriter, type JwtOutput } from '../../src/output/jwt-writer.js';
import { parseAndValidateJwtSvid } from '../../src/spiffe/jwtsvid.js';
import { bundleSet, testKey, token } from '../helpers/jwt.js';
import { tempDir } from '../helpers/tmp.js';
import { outputsIn } from './fixtures/x509-output.js';

const keyA = testKey('ES256', { kid: 'a1' });
const keyB = testKey('ES256', { kid: 'b1' });
const key123 = testKey('ES256', { kid: 'n1' });

const out = (certDir: string, o: Partial<JwtOutput> = {}): JwtOutput => ({
  certDir,
  jwtSvidFileMode: 0o600,
  jwtBundleFileName: 'jwt_bundle.json',
  jwtBundleFileMode: 0o600,
  jwtBundleFormat: 'go-helper',
  ...o,
});
const mode = (path: string) => statSync(path).mode & 0o777;
const inode = (path: string) => statSync(path).ino;
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
const decode = (b64: unknown) => JSON.parse(Buffer.from(b64 as string, 'base64').toString('utf8')) as { keys: { kid: string; use?: string }[] };

test('go-helper layout: {"<trust domain>": "<base64 JWKS>"}, domains sorted, mode applied', async () => {
  const dir = tempDir();
  const w = new JwtWriter(out(dir, { jwtBundleFileMode: 0o640 }), silentLogger);
  const result = await w.writeBundles(bundleSet({ 'partner.org': [keyB], 'example.org': [keyA], '123': [key123] }));
  assert.deepEqual(result, { changed: true, files: ['jwt_bundle.json'] });
  const path = join(dir, 'jwt_bundle.json');
  const text = readFileSync(path, 'utf8');
  assert.deepEqual(Object.keys(readJson(path)), ['123', 'example.org', 'partner.org']);
  assert.ok(text.indexOf('"123"') < text.indexOf('"example.org"'), 'numeric-looking names are not moved: byte order is sorted order');
  assert.deepEqual(
    decode(readJson(path)['example.org']).keys.map((k) => k.kid),
    ['a1'],
  );
  assert.equal(decode(readJson(path)['example.org']).keys[0]!.use, undefined);
  assert.equal(mode(path), 0o640);
});

test("go-helper layout: each JWK's members in go-jose's order (kty, kid, crv, x, y), as the Go helper re-serialises them", async () => {
  const dir = tempDir();
  await new JwtWriter(out(dir), silentLogger).writeBundles(bundleSet({ 'example.org': [keyA] }));
  const jwks = Buffer.from(readJson(join(dir, 'jwt_bundle.json'))['example.org'] as string, 'base64').toString('utf8');
  const [key] = (JSON.parse(jwks) as { keys: Record<string, unknown>[] }).keys;
  assert.deepEqual(Object.keys(key!), ['kty', 'kid', 'crv', 'x', 'y']);
});

test('a trust domain that leaves the stream leaves the file; an identical set is not rewritten', async () => {
  const dir = tempDir();
  const w = new JwtWriter(out(dir), silentLogger);
  const path = join(dir, 'jwt_bundle.json');
  await w.writeBundles(bundleSet({ 'example.org': [keyA], 'partner.org': [keyB] }));
  const first = inode(path);
  assert.deepEqual(await w.writeBundles(bundleSet({ 'partner.org': [keyB], 'example.org': [keyA] })), { changed: false, files: ['jwt_bundle.json'] });
  assert.equal(inode(path), first, 'same content: the file was not replaced');
  assert.equal((await w.writeBundles(bundleSet({ 'example.org': [keyA] }))).changed, true);
  assert.deepEqual(Object.keys(readJson(path)), ['example.org']);
  assert.notEqual(inode(path), first);
});

test('jwks layout: one plain JWKS per trust domain; files of departed domains are removed, others kept', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'unrelated.json'), '{}');
  const w = new JwtWriter(out(dir, { jwtBundleFormat: 'jwks', jwtBundleFileName: 'jwt_{trust_domain}.jwks' }), silentLogger);
  const r = await w.writeBundles(bundleSet({ 'example.org': [keyA], 'partner.org': [keyB] }));
  assert.deepEqual(r, { changed: true, files: ['jwt_example.org.jwks', 'jwt_partner.org.jwks'] });
  const jwks = readJson(join(dir, 'jwt_partner.org.jwks')) as { keys: { kid: string }[] };
  assert.deepEqual(
    jwks.keys.map((k) => k.kid),
    ['b1'],
  );
  assert.equal(mode(join(dir, 'jwt_partner.org.jwks')), 0o600);
  await w.writeBundles(bundleSet({ 'example.org': [keyA] }));
  assert.deepEqual(outputsIn(dir), ['jwt_example.org.jwks', 'unrelated.json']);
});

test('without jwt_bundle_file_name nothing is written', async () => {
  const dir = tempDir();
  const r = await new JwtWriter(out(dir, { jwtBundleFileName: undefined }), silentLogger).writeBundles(bundleSet({ 'example.org': [keyA] }));
  assert.deepEqual(r, { changed: false, files: [] });
  assert.deepEqual(readdirSync(dir), []);
});

test('a JWT-SVID file holds the raw token with its mode; the same token is not rewritten', async () => {
  const dir = tempDir();
  const bundles = bundleSet({ 'example.org': [keyA] });
  const svid = (exp: number) => parseAndValidateJwtSvid(token('ES256', keyA, { claims: { exp } }), { audience: 'api', bundles });
  const w = new JwtWriter(out(dir, { jwtSvidFileMode: 0o640 }), silentLogger);
  const exp = Math.floor(Date.now() / 1000) + 300;
  const first = svid(exp);
  assert.deepEqual(await w.writeSvid('api.jwt', first), { changed: true, files: ['api.jwt'] });
  const path = join(dir, 'api.jwt');
  assert.equal(readFileSync(path, 'utf8'), first.token);
  assert.equal(mode(path), 0o640);
  const ino = inode(path);
  assert.deepEqual(await w.writeSvid('api.jwt', first), { changed: false, files: ['api.jwt'] });
  assert.equal(inode(path), ino);
  const second = svid(exp + 1);
  assert.equal((await w.writeSvid('api.jwt', second)).changed, true);
  assert.equal(readFileSync(path, 'utf8'), second.token);
});

test('a write that fails leaves the old file and reports an output error naming the file', async () => {
  const dir = tempDir();
  const bundles = bundleSet({ 'example.org': [keyA] });
  const w = new JwtWriter(out(join(dir, 'missing')), silentLogger);
  await assert.rejects(
    w.writeSvid('api.jwt', parseAndValidateJwtSvid(token('ES256', keyA), { audience: 'api', bundles })),
    (e: Error & { code?: string }) => e.code === 'output' && /cannot write api\.jwt .*directory does not exist/.test(e.message),
  );
});

test('jwks layout: a trust domain that would make a bad file name gets no file, said once; the other files are written', async () => {
  const dir = tempDir();
  const lines: string[] = [];
  const w = new JwtWriter(out(dir, { jwtBundleFormat: 'jwks', jwtBundleFileName: '.{trust_domain}' }), createLogger({ write: (l) => lines.push(l) }));
  await w.writeBundles(bundleSet({ 'example.org': [keyA] }));
  const result = await w.writeBundles(bundleSet({ 'example.org': [keyA], '.': [keyB], 'partner.org': [keyB] }));
  assert.equal(result.changed, true);
  assert.deepEqual(outputsIn(dir), ['.example.org', '.partner.org']);
  await w.writeBundles(bundleSet({ 'example.org': [keyB], '.': [keyB], 'partner.org': [keyB] }));
  const warnings = lines.filter((l) => / WARN  no jwt bundle file/.test(l));
  assert.equal(warnings.length, 1, 'said once, not per update');
  assert.match(warnings[0]!, /trust domain \\?"\.\\?" would be written as \\?"\.\.\\?"/);
});

test("jwks layout: cleanup leaves files that merely share the pattern's prefix and suffix", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'jwt_README.jwks'), 'a user file');
  const w = new JwtWriter(out(dir, { jwtBundleFormat: 'jwks', jwtBundleFileName: 'jwt_{trust_domain}.jwks' }), silentLogger);
  await w.writeBundles(bundleSet({ 'example.org': [keyA], 'partner.org': [keyB] }));
  await w.writeBundles(bundleSet({ 'example.org': [keyA] }));
  assert.deepEqual(outputsIn(dir), ['jwt_README.jwks', 'jwt_example.org.jwks']);
});

test("jwks layout: a user's file named for a trust domain never in the bundle set is kept; the helper's own go, across a restart too", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'jwt_never.org.jwks'), 'a user file');
  const o = out(dir, { jwtBundleFormat: 'jwks', jwtBundleFileName: 'jwt_{trust_domain}.jwks' });
  await new JwtWriter(o, silentLogger).writeBundles(bundleSet({ 'example.org': [keyA], 'partner.org': [keyB] }));
  await new JwtWriter(o, silentLogger).writeBundles(bundleSet({ 'example.org': [keyA] }));
  assert.deepEqual(outputsIn(dir), ['jwt_example.org.jwks', 'jwt_never.org.jwks']);
});
