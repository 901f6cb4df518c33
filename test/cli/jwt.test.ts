import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { startDevAgent, type DevAgent } from '../../src/dev/agent.js';
import type { JWTSVIDRequestMessage } from '../../src/workload/proto.js';
import { cliPath, runCli, startCli, writeConfig } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { outputsIn } from '../output/fixtures/x509-output.js';

const agents: DevAgent[] = [];
after(() => Promise.all(agents.map((a) => a.close())));
async function agent(dir: string, options: Partial<Parameters<typeof startDevAgent>[0]> = {}): Promise<DevAgent> {
  const a = await startDevAgent({ socketPath: join(dir, 'agent.sock'), ...options });
  agents.push(a);
  return a;
}

const TWO_TOKENS = `jwt_svids = [
  { jwt_audience = "api", jwt_extra_audiences = ["x", "y"], jwt_svid_file_name = "api.jwt" },
  { jwt_audience = "db", jwt_svid_file_name = "db.jwt" },
]
jwt_bundle_file_name = "jwt_bundle.json"
`;

/** A config with JWT outputs only: no X.509 keys at all. */
function jwtConfig(dir: string, address: string, body = TWO_TOKENS): string {
  const file = join(dir, 'helper.conf');
  writeFileSync(file, `agent_address = "${address}"\ncert_dir = "${join(dir, 'certs')}"\n${body}`);
  return file;
}

const certs = (dir: string, name = '') => join(dir, 'certs', name);
const read = (path: string) => readFileSync(path, 'utf8');
const mode = (path: string) => statSync(path).mode & 0o777;
const goBundle = (path: string) => JSON.parse(read(path)) as Record<string, string>;
const jwksOf = (path: string, td: string) => JSON.parse(Buffer.from(goBundle(path)[td]!, 'base64').toString('utf8')) as JSONWebKeySet;
const jwtRequests = (a: DevAgent) => a.calls.filter((c) => c.method === 'FetchJWTSVID').map((c) => (c.request as JWTSVIDRequestMessage).audience);

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

for (const jwtAlg of ['ES256', 'RS256'] as const) {
  test(`--once with only JWT outputs writes every token and the bundle; jose verifies them (${jwtAlg})`, async () => {
    const dir = tempDir();
    const a = await agent(dir, { jwtAlg });
    const r = await runCli(['--config', jwtConfig(dir, a.address), '--once']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(certs(dir)).sort(), ['api.jwt', 'db.jwt', 'jwt_bundle.json']);
    assert.deepEqual(jwtRequests(a), [['api', 'x', 'y'], ['db']], 'extra audiences reach the agent');

    // Independent check: a generic JOSE library, the bundle file the helper wrote, the token it wrote.
    const keys = createLocalJWKSet(jwksOf(certs(dir, 'jwt_bundle.json'), 'example.org'));
    const api = await jwtVerify(read(certs(dir, 'api.jwt')), keys, { audience: 'api', algorithms: [jwtAlg] });
    assert.equal(api.payload.sub, 'spiffe://example.org/workload');
    assert.deepEqual(api.payload.aud, ['api', 'x', 'y']);
    const db = await jwtVerify(read(certs(dir, 'db.jwt')), keys, { audience: 'db' });
    assert.equal(db.payload.aud, 'db');
    for (const f of ['api.jwt', 'db.jwt', 'jwt_bundle.json']) assert.equal(mode(certs(dir, f)), 0o600, f);
    assert.ok(!r.stderr.includes(read(certs(dir, 'api.jwt'))), 'the token is never logged');
  });
}

test('file modes come from jwt_svid_file_mode and jwt_bundle_file_mode; X.509 and JWT outputs together', async () => {
  const dir = tempDir();
  const a = await agent(dir);
  const extra = `${TWO_TOKENS}jwt_svid_file_mode = 0o640\njwt_bundle_file_mode = "0644"\n`;
  const r = await runCli(['--config', writeConfig(dir, a.address, extra), '--once']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(certs(dir)).sort(), ['api.jwt', 'bundle.pem', 'db.jwt', 'jwt_bundle.json', 'svid.pem', 'svid_key.pem']);
  assert.equal(mode(certs(dir, 'api.jwt')), 0o640);
  assert.equal(mode(certs(dir, 'jwt_bundle.json')), 0o644);
});

test('the hint picks the JWT-SVID of that identity', async () => {
  const dir = tempDir();
  const a = await agent(dir, {
    identities: [
      { spiffeId: 'spiffe://example.org/one', hint: 'first' },
      { spiffeId: 'spiffe://example.org/two', hint: 'second' },
    ],
  });
  const r = await runCli(['--config', jwtConfig(dir, a.address, `hint = "second"\n${TWO_TOKENS}`), '--once']);
  assert.equal(r.code, 0, r.stderr);
  const v = await runCli(['jwt', 'verify', '--bundle', certs(dir, 'jwt_bundle.json'), '--audience', 'db', read(certs(dir, 'db.jwt'))]);
  assert.equal(v.code, 0, v.stderr);
  assert.equal(JSON.parse(v.stdout).spiffe_id, 'spiffe://example.org/two');
});

test('jwt verify: reads the token from stdin, prints subject, audience and expiry; says why it rejects', async () => {
  const dir = tempDir();
  const a = await agent(dir);
  assert.equal((await runCli(['--config', jwtConfig(dir, a.address), '--once'])).code, 0);
  const bundle = certs(dir, 'jwt_bundle.json');
  const ok = spawnSync(process.execPath, [cliPath, 'jwt', 'verify', '--bundle', bundle, '--audience', 'x', '-'], { input: read(certs(dir, 'api.jwt')) + '\n', encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  const out = JSON.parse(ok.stdout) as { spiffe_id: string; audience: string[]; expiry: string };
  assert.equal(out.spiffe_id, 'spiffe://example.org/workload');
  assert.deepEqual(out.audience, ['api', 'x', 'y']);
  assert.ok(Date.parse(out.expiry) > Date.now());

  const wrong = await runCli(['jwt', 'verify', '--bundle', bundle, '--audience', 'nope', read(certs(dir, 'api.jwt'))]);
  assert.equal(wrong.code, 5);
  assert.match(wrong.stderr, /jwtsvid: audience "nope" is not in the "aud" claim/);
  assert.ok(!wrong.stderr.includes(read(certs(dir, 'api.jwt'))));
  const usage = await runCli(['jwt', 'verify', '--audience', 'api', 'x.y.z']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--bundle FILE is required/);
});

test('jwt_bundle_format = "jwks": one plain JWKS per trust domain, usable by jose and by jwt verify', async () => {
  const dir = tempDir();
  const a = await agent(dir, { federatedTrustDomains: ['partner.org'] });
  const body = `jwt_svids = [{ jwt_audience = "api", jwt_svid_file_name = "api.jwt" }]\njwt_bundle_format = "jwks"\njwt_bundle_file_name = "jwt_{trust_domain}.json"\n`;
  const r = await runCli(['--config', jwtConfig(dir, a.address, body), '--once']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(outputsIn(certs(dir)), ['api.jwt', 'jwt_example.org.json', 'jwt_partner.org.json']);
  const jwks = JSON.parse(read(certs(dir, 'jwt_example.org.json'))) as JSONWebKeySet;
  await jwtVerify(read(certs(dir, 'api.jwt')), createLocalJWKSet(jwks), { audience: 'api' });
  const args = ['jwt', 'verify', '--bundle', certs(dir, 'jwt_example.org.json'), '--audience', 'api', read(certs(dir, 'api.jwt'))];
  const noTd = await runCli(args);
  assert.equal(noTd.code, 2);
  assert.match(noTd.stderr, /is a plain JWKS, which does not name its trust domain: add --trust-domain/);
  assert.equal((await runCli([...args, '--trust-domain', 'example.org'])).code, 0);
  const other = await runCli([...args.slice(0, 3), certs(dir, 'jwt_partner.org.json'), ...args.slice(4), '--trust-domain', 'partner.org']);
  assert.equal(other.code, 5, 'a partner key does not vouch for an example.org token');
  assert.match(other.stderr, /no JWT bundle for trust domain "example.org"/);
});

test('daemon: refreshes before expiry, follows federation changes, and keeps the token while the agent fails', async () => {
  const dir = tempDir();
  const a = await agent(dir, { jwtTtlSeconds: 4, federatedTrustDomains: ['partner.org'] });
  const run = startCli(['--config', jwtConfig(dir, a.address, `log_level = "debug"\n${TWO_TOKENS}`)]);
  try {
    const api = certs(dir, 'api.jwt');
    const bundle = certs(dir, 'jwt_bundle.json');
    await until('the first token is written', () => existsSync(api) && existsSync(bundle));
    assert.deepEqual(Object.keys(goBundle(bundle)), ['example.org', 'partner.org']);
    const first = read(api);
    const firstExp = (JSON.parse(Buffer.from(first.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp * 1000;
    await until('the token is refreshed', () => read(api) !== first, 5000);
    // Scheduled at half the remaining life + 1 s (a quarter of it below 4 s): well before the first
    // token expired. The schedule is the helper's; how long the fetch and write then take is the machine's.
    const scheduled = Date.parse(/next jwt svid refresh scheduled file=api\.jwt refresh_at=(\S+)/.exec(run.stderr())?.[1] ?? '');
    const margin = firstExp - scheduled;
    assert.ok(margin > 500, `the refresh was scheduled ${margin} ms before the old token expired`);
    assert.ok(statSync(api).mtimeMs < firstExp, 'the new token was written before the old one expired');

    a.setFederatedTrustDomains([]);
    await a.rotate();
    await until('the departed trust domain leaves the bundle file', () => !('partner.org' in goBundle(bundle)));

    a.setFault('FetchJWTSVID', { code: status.UNAVAILABLE, message: 'agent busy (test)' });
    const kept = read(api);
    await until('a refresh fails', () => run.stderr().includes('agent busy (test)'), 6000);
    assert.equal(read(api), kept, 'the last good token stays');
    a.setFault('FetchJWTSVID', null);
    await until('the refresh succeeds again', () => read(api) !== kept, 10_000);
  } finally {
    run.child.kill('SIGTERM');
  }
  const r = await run.result;
  assert.notEqual(r.signal, 'SIGKILL');
  assert.match(r.stderr, /jwt svid written .*spiffe_id=spiffe:\/\/example.org\/workload audience=api,x,y expiry=/);
  assert.doesNotMatch(r.stderr, /eyJ[\w-]+\.[\w-]+\.[\w-]+/, 'no token in the log');
});

test('--once against a missing socket exits 4, saying what it waited for', async () => {
  const dir = tempDir();
  const r = await runCli(['--config', jwtConfig(dir, `unix://${join(dir, 'none.sock')}`), '--once', '--timeout', '1500ms']);
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /gave up waiting for a valid JWT bundle: FetchJWTBundles: no agent at socket .*none\.sock \(socket file not found\)/);
});
