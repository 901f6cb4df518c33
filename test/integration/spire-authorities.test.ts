/**
 * SPIRE's authority lifecycle, end to end, with the shipped command (bin/spiffe-helper) against a
 * real SPIRE server + agent: `spire-server localauthority {x509,jwt} prepare`, `activate`, `taint`
 * the old authority, `revoke` it. What SPIRE sends through all of it must be accepted (no refused
 * update in /metrics), the files must follow (the revoked authority leaves the bundle files, the
 * identity moves to the new authority) and readiness must stay or come back to 200.
 * Run: npm run build && node --import tsx --test test/integration/spire-authorities.test.ts
 * Every test skips, printing why, when SPIRE cannot be had.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { fromPem } from '../../src/spiffe/pem.js';
import { launcherPath, runCli, writeConfig } from '../helpers/cli.js';
import { opensslVerify } from '../helpers/openssl.js';
import { spireUnavailableReason, type Spire } from '../helpers/spire.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { isRejected, isWritten } from '../hardening/lib.js';
import { awaitProbe, healthPort, helper, lines, metric, readiness, spire } from './spire-probes.js';

const unavailable = spireUnavailableReason();
const skip = unavailable ? `SPIRE unavailable: ${unavailable}` : false;
const TIMEOUT = 240_000;
const HEALTH = `[health_checks]\nlistener_enabled = true\nbind_port = 0\nmetrics_enabled = true\n`;

type Kind = 'x509' | 'jwt';
interface Authority {
  authority_id: string;
}

/** `localauthority <kind> <verb>` as JSON; fails the test on a non-zero exit. */
async function authority(s: Spire, kind: Kind, verb: 'prepare' | 'activate' | 'taint' | 'revoke' | 'show', id?: string): Promise<Record<string, Authority | undefined>> {
  const r = await s.serverCli(['localauthority', kind, verb, ...(id ? ['-authorityID', id] : []), '-output', 'json']);
  assert.equal(r.code, 0, `localauthority ${kind} ${verb}: ${r.stderr || r.stdout}`);
  return JSON.parse(r.stdout) as Record<string, Authority | undefined>;
}

const certs = (file: string) => (existsSync(file) ? fromPem(readFileSync(file, 'utf8'), 'CERTIFICATE').map((d) => new X509Certificate(d)) : []);
/** SPIRE names an X.509 authority by its subject key identifier, lowercase hex. */
const skiOf = (c: X509Certificate): string => keyIdOf(c.raw, '2.5.29.14');
/** The issuer's key id of a leaf (authorityKeyIdentifier keyid). */
const akiOf = (c: X509Certificate): string => keyIdOf(c.raw, '2.5.29.35');

/** The key identifier in extension `oid` of a DER certificate (SKI or AKI keyid), lowercase hex. */
function keyIdOf(der: Buffer, oid: '2.5.29.14' | '2.5.29.35'): string {
  const oidDer = oid === '2.5.29.14' ? Buffer.from('0603551d0e', 'hex') : Buffer.from('0603551d23', 'hex');
  const at = der.indexOf(oidDer);
  if (at < 0) return '';
  // OID, [critical BOOLEAN], OCTET STRING { SKI: OCTET STRING keyid | AKI: SEQUENCE { [0] keyid } }
  let p = at + oidDer.length;
  if (der[p] === 0x01) p += 3;
  p += 2; // outer OCTET STRING tag + length (short form: these extensions are small)
  if (oid === '2.5.29.35') p += 2; // SEQUENCE tag + length
  const len = der[p + 1]!;
  return der.subarray(p + 2, p + 2 + len).toString('hex');
}

test('X.509 authority lifecycle (prepare, activate, taint the old, revoke it): every update accepted, the SVID moves to the new CA, bundle.pem drops the revoked one, the child is signalled', {
  skip,
  timeout: TIMEOUT,
}, async (t) => {
  const t0 = Date.now();
  const s = await spire();
  // A long TTL: only the taint can make the agent re-issue the SVID before the revocation.
  await s.createEntry({ spiffeId: `spiffe://${s.trustDomain}/authorities`, x509SvidTtl: 3600 });
  const dir = tempDir('sha-');
  const dirCerts = join(dir, 'certs');
  const child = `echo start >> ${dir}/child.log; trap 'echo hup >> ${dir}/child.log' HUP; while :; do sleep 0.05; done`;
  const h = helper(writeConfig(dir, s.address, `cmd = "sh"\ncmd_args = ["-c", ${JSON.stringify(child)}]\nrenew_signal = "SIGHUP"\n${HEALTH}`));
  await h.waitFor('the first write', 0, isWritten, 60_000);
  const port = await healthPort(h);
  const old = (await authority(s, 'x509', 'show')).active!.authority_id;
  const leaf = () => certs(join(dirCerts, 'svid.pem'))[0]!;
  const bundleIds = () => certs(join(dirCerts, 'bundle.pem')).map(skiOf).sort();
  assert.equal(akiOf(leaf()), old, 'the first SVID is issued by the active authority');
  assert.deepEqual(bundleIds(), [old]);

  const prepared = (await authority(s, 'x509', 'prepare')).prepared_authority!.authority_id;
  await waitFor('bundle.pem to hold the prepared authority too', () => bundleIds().length === 2 || undefined, 60_000, 100);
  assert.deepEqual(bundleIds(), [old, prepared].sort());
  await authority(s, 'x509', 'activate', prepared);
  const writes = h.lines().filter(isWritten).length;
  await authority(s, 'x509', 'taint', old);
  await waitFor('an SVID issued by the new authority (the agent re-issues what a tainted authority signed)', () => akiOf(leaf()) === prepared || undefined, 90_000, 100);
  await authority(s, 'x509', 'revoke', old);
  await waitFor('bundle.pem without the revoked authority', () => (bundleIds().length === 1 && bundleIds()[0] === prepared) || undefined, 90_000, 100);

  assert.match(opensslVerify(join(dirCerts, 'bundle.pem'), join(dirCerts, 'svid.pem')), /: OK/);
  assert.deepEqual(h.lines().filter(isRejected), [], 'nothing SPIRE sent was refused');
  assert.equal(await metric(port, 'spiffe_helper_refused_updates_total'), 0, 'no refused update counted');
  const ready = await readiness(port);
  assert.equal(ready.status, 200, JSON.stringify(ready.body));
  assert.equal(ready.body.last_error, undefined);
  // One signal per X.509 set written after the first (the child was started before it was signalled).
  const written = h.lines().filter(isWritten).length;
  assert.ok(written > writes, 'the taint brought a new SVID');
  await waitFor('a SIGHUP per rotation', () => lines(join(dir, 'child.log')).filter((l) => l === 'hup').length === written - 1 || undefined, 10_000);
  assert.deepEqual(
    lines(join(dir, 'child.log')).filter((l) => l === 'start'),
    ['start'],
    'the child is started once',
  );
  t.diagnostic(`x509 lifecycle: ${Date.now() - t0} ms, ${written} writes`);
});

/** The kid of the token the agent hands out now for `audience` (spire-agent api fetch jwt). */
async function agentKid(s: Spire, audience: string): Promise<string | undefined> {
  const r = await runCli(['api', 'fetch', 'jwt', '-audience', audience, '-socketPath', s.socketPath, '-output', 'json'], { command: join(s.binDir, 'spire-agent') });
  const token = /"svid":\s*"([\w-]+\.[\w-]+\.[\w-]+)"/.exec(r.stdout)?.[1];
  return r.code === 0 && token ? decodeProtectedHeader(token).kid : undefined;
}

/** An entry for `name` with JWT-SVIDs of `jwtTtl` s, and a helper writing its token and the JWT bundle. */
async function jwtWorkload(s: Spire, name: string, jwtTtl: number) {
  await s.createEntry({ spiffeId: `spiffe://${s.trustDomain}/${name}`, jwtSvidTtl: jwtTtl });
  const dir = tempDir('sha-');
  const token = join(dir, 'certs', 'api.jwt');
  const bundleFile = join(dir, 'certs', 'jwt_bundle.json');
  const h = helper(writeConfig(dir, s.address, `jwt_svids = [{ jwt_audience = "api", jwt_svid_file_name = "api.jwt" }]\njwt_bundle_file_name = "jwt_bundle.json"\n${HEALTH}`));
  const port = await healthPort(h);
  await awaitProbe(port, 'ready', (r) => r.status === 200);
  const kidOf = () => decodeProtectedHeader(readFileSync(token, 'utf8')).kid;
  return { h, port, token, bundleFile, kidOf };
}

test('JWT authority lifecycle (prepare, activate, taint the old, revoke it): the bundle file follows, the JWT-SVID moves to the new key, `jwt verify` accepts it with the written bundle', {
  skip,
  timeout: TIMEOUT,
}, async (t) => {
  const t0 = Date.now();
  const s = await spire();
  // A long TTL: the token must move to the new key because of the authority change, not its age.
  const { h, port, token, bundleFile, kidOf } = await jwtWorkload(s, 'jwt-authorities', 600);
  const kids = () => {
    const doc = JSON.parse(readFileSync(bundleFile, 'utf8')) as Record<string, string>;
    const jwks = JSON.parse(Buffer.from(doc[s.trustDomain]!, 'base64').toString('utf8')) as { keys: { kid: string }[] };
    return jwks.keys.map((k) => k.kid).sort();
  };
  const old = (await authority(s, 'jwt', 'show')).active!.authority_id;
  assert.equal(kidOf(), old, 'the token is signed by the active JWT authority');
  assert.deepEqual(kids(), [old]);

  const prepared = (await authority(s, 'jwt', 'prepare')).prepared_authority!.authority_id;
  await waitFor('the bundle file to hold the prepared key too', () => kids().length === 2 || undefined, 60_000, 100);
  await authority(s, 'jwt', 'activate', prepared);
  await authority(s, 'jwt', 'taint', old);
  // As an operator must: revoke once the agent has dropped the tokens the tainted key signed.
  // Before that it may still hand them out, and nobody could verify them (the next test).
  await waitFor('the agent to sign with the new key', async () => (await agentKid(s, 'api')) === prepared || undefined, 60_000, 200);
  await authority(s, 'jwt', 'revoke', old);
  await waitFor('the bundle file without the revoked key', () => (kids().length === 1 && kids()[0] === prepared) || undefined, 60_000, 100);
  // A token signed by a key that left the bundle verifies nowhere: it must be replaced now, not at half its life.
  await waitFor('a token signed by the new key', () => kidOf() === prepared || undefined, 60_000, 100).catch((e: Error) => {
    throw new Error(`${e.message}\n${h.run.stderr().slice(-4000)}`);
  });

  const verified = await runCli(['jwt', 'verify', '--bundle', bundleFile, '--audience', 'api', readFileSync(token, 'utf8')], { command: launcherPath });
  assert.equal(verified.code, 0, verified.stderr);
  assert.equal((JSON.parse(verified.stdout) as { spiffe_id: string }).spiffe_id, `spiffe://${s.trustDomain}/jwt-authorities`);
  assert.deepEqual(h.lines().filter(isRejected), [], 'nothing SPIRE sent was refused');
  assert.equal(await metric(port, 'spiffe_helper_refused_updates_total'), 0, 'no refused update counted');
  await awaitProbe(port, 'ready with last_error cleared', (r) => r.status === 200 && r.body.last_error === undefined, 10_000);
  t.diagnostic(`jwt lifecycle: ${Date.now() - t0} ms`);
});

test('a JWT authority revoked while the agent still hands out the token it signed: /ready 503 naming the token (it verifies nowhere), the stale token refused, ready again once the agent re-signs', {
  skip,
  timeout: TIMEOUT,
}, async (t) => {
  const t0 = Date.now();
  const s = await spire();
  // The agent hands out its cached token until half its lifetime: 10 s of staleness at most.
  const { port, kidOf } = await jwtWorkload(s, 'jwt-revoked', 20);
  const old = (await authority(s, 'jwt', 'show')).active!.authority_id;
  const prepared = (await authority(s, 'jwt', 'prepare')).prepared_authority!.authority_id;
  await authority(s, 'jwt', 'activate', prepared);
  // Taint and revoke between two syncs of the agent (frozen meanwhile): it never sees the old key
  // tainted, so it keeps the tokens that key signed, and hands them out until they are half-way.
  const agentPid = s.pids().agent!;
  process.kill(agentPid, 'SIGSTOP');
  try {
    await authority(s, 'jwt', 'taint', old);
    await authority(s, 'jwt', 'revoke', old);
  } finally {
    process.kill(agentPid, 'SIGCONT');
  }
  const stale = await awaitProbe(port, 'not ready: the token on disk verifies nowhere', (r) => r.status === 503, 30_000);
  assert.match(stale.body.not_ready!.join('\n'), /jwt svid api\.jwt: no longer usable: .*not in the JWT bundle/, JSON.stringify(stale.body));
  assert.equal((await readiness(port, '/live')).status, 200, 'a restart would not help: live');
  const back = await awaitProbe(port, 'ready again, with a token of the new key', (r) => r.status === 200 && kidOf() === prepared);
  assert.equal(back.body.last_error, undefined, JSON.stringify(back.body));
  const refused = await metric(port, 'spiffe_helper_refused_updates_total');
  assert.ok(refused > 0, 'the stale tokens the agent handed out were refused, and counted');
  t.diagnostic(`jwt revoked under a cached token: ${Date.now() - t0} ms, ${refused} stale tokens refused`);
});
