import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startCli, writeConfig, type Running } from '../helpers/cli.js';
import { devAgent } from '../helpers/dev-agent.js';
import { tempDir } from '../helpers/tmp.js';
import { delay, waitFor } from '../helpers/wait.js';

/**
 * The probes against the built CLI and the dev agent: readiness covers every output and the
 * disk, the agent redacting an identity is "not ready", liveness ignores the agent, and
 * last_error is the current cause.
 */
const HEALTH = `[health_checks]\nlistener_enabled = true\nbind_port = 0\nmetrics_enabled = true\n`;

interface Probe {
  status: number;
  body: { live: boolean; ready: boolean; last_error?: string; not_ready?: string[]; file_write_statuses: { x509_write_status?: string; jwt_write_status: Record<string, string> } };
}

async function listenerPort(run: Running): Promise<number> {
  const m = await waitFor('the health listener to start', () => /health listener started address=[\d.]+:(\d+)/.exec(run.stderr()));
  return Number(m[1]);
}

async function probe(port: number, path: '/live' | '/ready'): Promise<Probe> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: (await res.json()) as Probe['body'] };
}

async function until(port: number, path: '/live' | '/ready', what: string, ok: (p: Probe) => boolean, timeoutMs = 15_000): Promise<Probe> {
  let last: Probe | undefined;
  try {
    return await waitFor(
      what,
      async () => {
        last = await probe(port, path);
        return ok(last) ? last : undefined;
      },
      timeoutMs,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}; last ${path}: ${JSON.stringify(last)}`);
  }
}

async function stopped(run: Running): Promise<void> {
  run.child.kill('SIGTERM');
  const r = await run.result;
  assert.equal(r.code, 0, r.stderr);
}

test('readiness: a JWT-bundle-only config is not ready until the bundle file is on disk', async () => {
  const dir = tempDir();
  const conf = join(dir, 'helper.conf');
  writeFileSync(conf, `agent_address = "unix://${join(dir, 'agent.sock')}"\ncert_dir = "${join(dir, 'certs')}"\njwt_bundle_file_name = "bundle.jwks"\n${HEALTH}`);
  const run = startCli(['--config', conf]);
  try {
    const port = await listenerPort(run);
    const before = await probe(port, '/ready');
    assert.equal(before.status, 503, JSON.stringify(before.body));
    assert.deepEqual(before.body.not_ready, ['jwt bundle: not written yet']);
    assert.equal((await probe(port, '/live')).status, 200);
    await devAgent(dir);
    await until(port, '/ready', 'ready once the bundle is written', (p) => p.status === 200);
    assert.ok(existsSync(join(dir, 'certs', 'bundle.jwks')));
  } finally {
    await stopped(run);
  }
});

const diskCases: { name: string; change: (certs: string) => void; says: RegExp }[] = [
  { name: 'the SVID deleted', change: (c) => rmSync(join(c, 'svid.pem')), says: /x509 svid: svid\.pem was deleted or replaced/ },
  { name: 'the key replaced by another file', change: (c) => writeFileSync(join(c, 'svid_key.pem'), 'not a key\n'), says: /x509 svid: svid_key\.pem was deleted or replaced/ },
  {
    name: 'the bundle renamed over by an older copy',
    change: (c) => (writeFileSync(join(c, 'old'), readFileSync(join(c, 'bundle.pem'))), renameSync(join(c, 'old'), join(c, 'bundle.pem'))),
    says: /bundle\.pem was deleted or replaced/,
  },
  { name: 'the JWT-SVID deleted', change: (c) => rmSync(join(c, 'api.jwt')), says: /jwt svid api\.jwt: api\.jwt was deleted or replaced/ },
  { name: 'the JWT bundle deleted', change: (c) => rmSync(join(c, 'jwt.json')), says: /jwt bundle: jwt\.json was deleted or replaced/ },
  { name: 'the whole cert_dir deleted', change: (c) => rmSync(c, { recursive: true }), says: /svid\.pem was deleted or replaced/ },
  { name: 'the whole cert_dir replaced by a file (ENOTDIR)', change: (c) => (rmSync(c, { recursive: true }), writeFileSync(c, 'x')), says: /svid\.pem was deleted or replaced/ },
];

for (const layout of ['files', 'atomic_dir']) {
  for (const c of diskCases) {
    test(`readiness reflects the disk (${layout}): ${c.name} behind the helper's back is not ready, until the next write`, async () => {
      const dir = tempDir();
      const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
      const extra = `file_layout = "${layout}"\njwt_bundle_file_name = "jwt.json"\njwt_svids = [{ jwt_audience = "api", jwt_svid_file_name = "api.jwt" }]\n${HEALTH}`;
      const run = startCli(['--config', writeConfig(dir, agent.address, extra)]);
      try {
        const port = await listenerPort(run);
        await until(port, '/ready', 'ready', (p) => p.status === 200);
        c.change(join(dir, 'certs'));
        const p = await probe(port, '/ready');
        assert.equal(p.status, 503);
        assert.ok(
          p.body.not_ready?.some((r) => c.says.test(r)),
          JSON.stringify(p.body.not_ready),
        );
        if (c.name.includes('cert_dir')) assert.equal((await probe(port, '/live')).status, 503, 'a running helper does not recreate cert_dir; a restart does');
        else assert.equal((await probe(port, '/live')).status, 200, 'a restart would not bring the file back sooner than the next update');
        // A missing cert_dir is not recreated, and JWT files change at the next refresh, not at a rotation.
        if (c.name.includes('cert_dir') || c.name.includes('JWT')) return;
        await agent.rotate();
        await until(port, '/ready', 'ready again after the next rotation', (q) => q.status === 200);
      } finally {
        await stopped(run);
      }
    });
  }
}

test('redaction: an established X.509 stream turning PERMISSION_DENIED is not ready, warned, the files kept; issued again, ready again', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const run = startCli(['--config', writeConfig(dir, agent.address, HEALTH)]);
  try {
    const port = await listenerPort(run);
    await until(port, '/ready', 'ready', (p) => p.status === 200);
    const svid = readFileSync(join(dir, 'certs', 'svid.pem'));
    agent.setIdentities([]);
    await agent.rotate();
    const p = await until(port, '/ready', 'not ready after the redaction', (q) => q.status === 503);
    assert.match(p.body.not_ready!.join('\n'), /x509 svid: redacted: FetchX509SVID: the agent no longer issues an identity to this workload/);
    assert.match(p.body.last_error ?? '', /no longer issues an identity/);
    assert.equal((await probe(port, '/live')).status, 200);
    await waitFor('the warning', () => /WARN +the agent no longer issues this identity; not ready until it does again/.test(run.stderr()));
    // Distinguish "no longer" from "not yet" everywhere the helper says it.
    await waitFor('a retry to be logged', () => /stream interrupted; retrying.*no longer issues an identity/.test(run.stderr()));
    assert.doesNotMatch(run.stderr(), /no identity issued to this workload yet/);
    assert.deepEqual(readFileSync(join(dir, 'certs', 'svid.pem')), svid, 'the files stay in place');

    agent.setIdentities([{ spiffeId: 'spiffe://example.org/workload' }]);
    await agent.rotate();
    const back = await until(port, '/ready', 'ready once issued again', (q) => q.status === 200, 40_000);
    assert.equal(back.body.last_error, undefined, 'last_error cleared on recovery');
  } finally {
    await stopped(run);
  }
});

test('redaction: the hinted SVID no longer sent is not ready and counted as refused by reason; sent again, ready again', async () => {
  const dir = tempDir();
  const both = [
    { spiffeId: 'spiffe://example.org/a', hint: 'a' },
    { spiffeId: 'spiffe://example.org/b', hint: 'b' },
  ];
  const agent = await devAgent(dir, { svidTtlSeconds: 3600, identities: both });
  const run = startCli(['--config', writeConfig(dir, agent.address, `hint = "b"\n${HEALTH}`)]);
  try {
    const port = await listenerPort(run);
    await until(port, '/ready', 'ready', (p) => p.status === 200);
    agent.setIdentities([both[0]!]);
    await agent.rotate();
    const p = await until(port, '/ready', 'not ready once hint "b" is gone', (q) => q.status === 503);
    assert.match(p.body.not_ready!.join('\n'), /x509 svid: redacted: x509svid: no SVID has hint "b"/);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /^spiffe_helper_refused_updates_total\{reason="hint_not_sent"\} 1$/m);
    assert.match(run.stderr(), /WARN +the agent no longer issues this identity/);
    agent.setIdentities(both);
    await agent.rotate();
    const back = await until(port, '/ready', 'ready once "b" is sent again', (q) => q.status === 200);
    assert.equal(back.body.last_error, undefined);
  } finally {
    await stopped(run);
  }
});

test('liveness: a JWT-SVID expiring during an agent outage leaves /live 200 (not ready, with the current cause)', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600, jwtTtlSeconds: 2 });
  const run = startCli(['--config', writeConfig(dir, agent.address, `jwt_svids = [{ jwt_audience = "api", jwt_svid_file_name = "api.jwt" }]\n${HEALTH}`)]);
  try {
    const port = await listenerPort(run);
    await until(port, '/ready', 'ready', (p) => p.status === 200);
    await agent.close();
    const p = await until(port, '/ready', 'the token to expire', (q) => q.body.not_ready?.some((r) => /jwt svid api\.jwt: expired/.test(r)) === true);
    assert.equal(p.status, 503);
    await waitFor('the refresh to give up on the expired token', () => /token on disk has expired/.test(run.stderr()));
    const live = await probe(port, '/live');
    assert.equal(live.status, 200, JSON.stringify(live.body));
    assert.match(live.body.last_error ?? '', /agent|expired/);
  } finally {
    await stopped(run);
  }
});

test('last_error names the current cause and is cleared once the agent is back (X.509 and JWT-SVIDs without a bundle file)', async () => {
  const dir = tempDir();
  let agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const run = startCli(['--config', writeConfig(dir, agent.address, `jwt_svids = [{ jwt_audience = "api", jwt_svid_file_name = "api.jwt" }]\n${HEALTH}`)]);
  try {
    const port = await listenerPort(run);
    await until(port, '/ready', 'ready', (p) => p.status === 200 && p.body.last_error === undefined);
    await agent.close();
    const down = await until(port, '/live', 'the outage to be the cause', (p) => /FetchX509SVID/.test(p.body.last_error ?? ''));
    assert.equal(down.status, 200);
    await delay(300);
    agent = await devAgent(dir, { svidTtlSeconds: 3600 });
    await until(port, '/ready', 'last_error cleared', (p) => p.status === 200 && p.body.last_error === undefined, 40_000);
  } finally {
    await stopped(run);
  }
});

test("readiness with file names that are paths: a file replaced behind the helper's back in its own directory is seen; Go's keys are the joined paths", async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const conf = join(dir, 'helper.conf');
  const certs = join(dir, 'certs');
  writeFileSync(
    conf,
    `agent_address = "${agent.address}"\ncert_dir = "${certs}"\nsvid_file_name = "x509/svid.pem"\nsvid_key_file_name = "../keys/svid_key.pem"\nsvid_bundle_file_name = "bundle.pem"\njwt_bundle_file_name = "/bundles/jwt_bundle.json"\njwt_svids = [{ jwt_audience = "a", jwt_svid_file_name = "../jwts/a.jwt" }]\n${HEALTH}`,
  );
  const run = startCli(['--config', conf]);
  try {
    const port = await listenerPort(run);
    const ready = await until(port, '/ready', 'ready', (p) => p.status === 200);
    const go = (ready.body as unknown as { health: { file_write_statuses: { jwt_write_status: Record<string, string> } } }).health.file_write_statuses;
    // The JWT bundle named by an absolute path lands in certs/bundles/ (Go's path.Join), and readiness looks there.
    assert.deepEqual(go.jwt_write_status, { [join(dir, 'jwts/a.jwt')]: 'written', [join(certs, 'bundles/jwt_bundle.json')]: 'written' });
    writeFileSync(join(dir, 'keys', 'svid_key.tmp'), 'not a key');
    renameSync(join(dir, 'keys', 'svid_key.tmp'), join(dir, 'keys', 'svid_key.pem'));
    const after = await until(port, '/ready', 'not ready', (p) => p.status === 503);
    assert.match(after.body.not_ready!.join(), /x509 svid: \.\.\/keys\/svid_key\.pem was deleted or replaced/);
  } finally {
    await stopped(run);
  }
});

test("an expired JWT-SVID names its own refresh's cause, not another RPC's (the X.509 stream refusing the same missing hint)", async () => {
  const dir = tempDir();
  const both = [
    { spiffeId: 'spiffe://example.org/a', hint: 'a' },
    { spiffeId: 'spiffe://example.org/b', hint: 'b' },
  ];
  const agent = await devAgent(dir, { svidTtlSeconds: 3600, jwtTtlSeconds: 2, identities: both });
  const run = startCli(['--config', writeConfig(dir, agent.address, `hint = "b"\njwt_svids = [{ jwt_audience = "api", jwt_svid_file_name = "api.jwt" }]\n${HEALTH}`)]);
  try {
    const port = await listenerPort(run);
    await until(port, '/ready', 'ready', (p) => p.status === 200);
    agent.setIdentities([both[0]!]);
    await agent.rotate();
    const line = await waitFor('the expiry to be logged', () => /^.*jwt svid refresh failing and the token on disk has expired.*$/m.exec(run.stderr())?.[0]);
    assert.match(line, /jwtsvid: no JWT-SVID has hint/);
    assert.doesNotMatch(line, /x509svid|FetchX509SVID/);
  } finally {
    await stopped(run);
  }
});
