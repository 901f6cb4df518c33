/**
 * Registration entries, federation and outages as a real SPIRE server + agent produce them, with
 * the shipped command (bin/spiffe-helper): an entry replaced by one with another SPIFFE ID (with
 * and without a hint), a partner bundle holding X.509 and JWT authorities and an expired CA (then
 * deleted), a server outage that outlasts the X.509-SVID. Each checks the files, /ready, /live,
 * last_error, the refused-updates metric and the signals a wrapped child got.
 * Run: npm run build && node --import tsx --test test/integration/spire-entries.test.ts
 * Every test skips, printing why, when SPIRE cannot be had.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { decodeJwt } from 'jose';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fromPem } from '../../src/spiffe/pem.js';
import { issue } from '../helpers/certs.js';
import { writeConfig } from '../helpers/cli.js';
import { opensslVerify } from '../helpers/openssl.js';
import { spireUnavailableReason } from '../helpers/spire.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { isRejected, isWritten, type Helper } from '../hardening/lib.js';
import { awaitProbe, healthPort, helper, lines, metric, readiness, spire, watchLive } from './spire-probes.js';

const unavailable = spireUnavailableReason();
const skip = unavailable ? `SPIRE unavailable: ${unavailable}` : false;
const TIMEOUT = 240_000;
const JWT = 'jwt_svids = [{ jwt_audience = "api", jwt_svid_file_name = "api.jwt" }]\n';
const HEALTH = `[health_checks]\nlistener_enabled = true\nbind_port = 0\nmetrics_enabled = true\n`;

/** A wrapped child that logs its start and every SIGHUP to `<dir>/child.log`. */
const recorder = (dir: string) => {
  const sh = `echo start >> ${dir}/child.log; trap 'echo hup >> ${dir}/child.log' HUP; while :; do sleep 0.05; done`;
  return `cmd = "sh"\ncmd_args = ["-c", ${JSON.stringify(sh)}]\nrenew_signal = "SIGHUP"\n`;
};
const hups = (dir: string) => lines(join(dir, 'child.log')).filter((l) => l === 'hup').length;
const uriOf = (file: string): string => new X509Certificate(readFileSync(file)).subjectAltName ?? '';
const certs = (file: string) => (existsSync(file) ? fromPem(readFileSync(file, 'utf8'), 'CERTIFICATE').map((d) => new X509Certificate(d)) : []);

/** One signal per X.509 set written after the first, and the child started once. */
async function signalledPerRotation(h: Helper, dir: string): Promise<number> {
  const written = h.lines().filter(isWritten).length;
  await waitFor(`${written - 1} SIGHUPs for ${written} writes`, () => hups(dir) === written - 1, 10_000);
  assert.deepEqual(
    lines(join(dir, 'child.log')).filter((l) => l === 'start'),
    ['start'],
    'the child is started once',
  );
  return written;
}

for (const hint of ['web', ''] as const) {
  const title = hint
    ? `hint = "${hint}": its entry replaced by one with another SPIFFE ID and the same hint, another entry beside it`
    : 'no hint: the only entry replaced by one with another SPIFFE ID';
  test(`${title}: not ready (redacted) in between with the files kept, then the new identity written and the child signalled once`, { skip, timeout: TIMEOUT }, async (t) => {
    const t0 = Date.now();
    const s = await spire();
    const td = s.trustDomain;
    let entry = await s.createEntry({ spiffeId: `spiffe://${td}/web-v1`, hint: hint || undefined });
    // With a hint, an entry the hint does not pick stays: only the hinted identity is gone.
    if (hint) await s.createEntry({ spiffeId: `spiffe://${td}/db`, hint: 'db' });
    const dir = tempDir('she-');
    const svid = join(dir, 'certs', 'svid.pem');
    // Without a hint the whole identity goes and the JWT bundle stream tells; with one, only the
    // X.509 stream does (FetchJWTSVID is a call), and the token must follow it all the same.
    const subOf = () => decodeJwt(readFileSync(join(dir, 'certs', 'api.jwt'), 'utf8')).sub;
    const h = helper(writeConfig(dir, s.address, `hint = "${hint}"\n${JWT}${recorder(dir)}${HEALTH}`));
    const port = await healthPort(h);
    await awaitProbe(port, 'ready', (r) => r.status === 200);
    assert.equal(uriOf(svid), `URI:spiffe://${td}/web-v1`);
    const before = readFileSync(svid);

    await s.deleteEntry(entry);
    const gone = await awaitProbe(port, 'not ready: the identity redacted', (r) => r.status === 503);
    assert.match(gone.body.not_ready!.join('\n'), /^x509 svid: redacted: /m, JSON.stringify(gone.body));
    await awaitProbe(port, 'the token redacted too', (r) => /^jwt svid api\.jwt: redacted: /m.test((r.body.not_ready ?? []).join('\n')), 10_000);
    assert.equal((await readiness(port, '/live')).status, 200);
    assert.deepEqual(readFileSync(svid), before, 'the files stay');
    assert.ok(
      h.lines().some((l) => l.level === 'warn' && /no longer issues this identity/.test(l.msg)),
      'a warning',
    );
    assert.ok(!h.lines().some((l) => /no identity issued to this workload yet/.test(String(l.error ?? l.msg))), 'never "not issued yet" after an identity was issued');

    entry = await s.createEntry({ spiffeId: `spiffe://${td}/web-v2`, hint: hint || undefined });
    // Ready again only once every output carries the new identity.
    const back = await awaitProbe(port, 'ready again', (r) => r.status === 200);
    assert.equal(uriOf(svid), `URI:spiffe://${td}/web-v2`);
    assert.equal(subOf(), `spiffe://${td}/web-v2`, 'the token names the identity the agent issues now');
    // A stream refused while the identity was redacted (the JWT bundles') reconnects at its next
    // retry, up to its backoff later: the token can be fetched before that (the X.509 stream told
    // of the new identity). last_error names that stream until then, and clears then.
    assert.equal(back.body.ready, true);
    const cleared = await awaitProbe(port, 'last_error cleared', (r) => r.body.last_error === undefined, 60_000);
    assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
    assert.match(opensslVerify(join(dir, 'certs', 'bundle.pem'), svid), /: OK/);
    const written = await signalledPerRotation(h, dir);
    assert.equal(written, 2, 'written twice: the first identity, then the new one');
    // The hinted SVID missing from an update is refused (hint_not_sent); a PERMISSION_DENIED is no update.
    const reasons = [
      ...new Set(
        h
          .lines()
          .filter(isRejected)
          .map((l) => String(l.reason)),
      ),
    ];
    assert.deepEqual(reasons, hint ? ['hint_not_sent'] : []);
    const refused = await metric(port, 'spiffe_helper_refused_updates_total');
    // A token fetch that finds no hinted JWT-SVID is refused too, and logged as a failed refresh.
    const jwtRefused = h.lines().filter((l) => /^jwt svid (refresh|fetch) failed/.test(l.msg) && /no JWT-SVID has hint/.test(String(l.error))).length;
    assert.equal(hint ? jwtRefused > 0 : jwtRefused === 0, true, `${jwtRefused} token fetches refused for the missing hint`);
    assert.equal(refused, h.lines().filter(isRejected).length + jwtRefused, 'each refusal counted once');
    t.diagnostic(`${title}: ${Date.now() - t0} ms, ${refused} refused updates`);
  });
}

test('no hint, two entries: the one written is deleted, the other is written and the token follows it at once (not at half its 5 min lifetime), ready throughout', {
  skip,
  timeout: TIMEOUT,
}, async (t) => {
  const t0 = Date.now();
  const s = await spire();
  const ids = ['a', 'b'].map((n) => `spiffe://${s.trustDomain}/${n}`);
  const entries = new Map<string, string>();
  for (const id of ids) entries.set(id, await s.createEntry({ spiffeId: id }));
  await waitFor('the agent to issue both', async () => (await s.issuedIds()).length === 2 || undefined, 60_000, 200);
  const dir = tempDir('she-');
  const svid = join(dir, 'certs', 'svid.pem');
  const subOf = () => decodeJwt(readFileSync(join(dir, 'certs', 'api.jwt'), 'utf8')).sub;
  const h = helper(writeConfig(dir, s.address, `${JWT}${HEALTH}`));
  const port = await healthPort(h);
  await awaitProbe(port, 'ready', (r) => r.status === 200);
  const first = uriOf(svid).replace(/^URI:/, '');
  const other = ids.find((id) => id !== first)!;
  assert.equal(subOf(), first);

  await s.deleteEntry(entries.get(first)!);
  const deleted = Date.now();
  await waitFor(`svid.pem and api.jwt to name ${other}`, () => uriOf(svid) === `URI:${other}` && subOf() === other, 30_000, 100);
  const followedMs = Date.now() - deleted;
  assert.equal((await readiness(port, '/ready')).status, 200);
  assert.ok(
    h.lines().some((l) => /identity on the x509 stream changed/.test(l.msg)),
    'the reason for the early fetch is logged',
  );
  t.diagnostic(`token followed the X.509 identity ${followedMs} ms after the entry was deleted; ${Date.now() - t0} ms`);
});

test('a partner bundle with X.509 and JWT authorities and an expired CA (omit_expired), then deleted: per-domain file, bundle.pem and the JWT bundle file follow, nothing refused', {
  skip,
  timeout: TIMEOUT,
}, async (t) => {
  const t0 = Date.now();
  const s = await spire();
  const partner = 'spiffe://partner.org';
  const valid = await issue({ ca: true, uris: [partner], name: 'partner valid CA' });
  const expired = await issue({ ca: true, uris: [partner], name: 'partner expired CA', notBefore: new Date(Date.now() - 7_200_000), notAfter: new Date(Date.now() - 3_600_000) });
  const jwtKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  const doc = {
    keys: [
      { use: 'x509-svid', ...new X509Certificate(valid.der).publicKey.export({ format: 'jwk' }), x5c: [valid.der.toString('base64')] },
      { use: 'x509-svid', ...new X509Certificate(expired.der).publicKey.export({ format: 'jwk' }), x5c: [expired.der.toString('base64')] },
      { use: 'jwt-svid', kid: 'partner-jwt', ...jwtKey },
    ],
    spiffe_sequence: 1,
  };
  const set = await s.serverCli(['bundle', 'set', '-format', 'spiffe', '-id', partner], JSON.stringify(doc));
  assert.equal(set.code, 0, set.stderr || set.stdout);
  await s.createEntry({ spiffeId: `spiffe://${s.trustDomain}/federated`, federatesWith: ['partner.org'] });
  const dir = tempDir('she-');
  const c = (f: string) => join(dir, 'certs', f);
  const extra =
    'include_federated_domains = true\nfederated_bundle_file_name = "fed_{trust_domain}.pem"\nomit_expired = true\n' +
    'jwt_svids = [{ jwt_audience = "api", jwt_svid_file_name = "api.jwt" }]\njwt_bundle_file_name = "jwt_bundle.json"\n';
  const h = helper(writeConfig(dir, s.address, extra + HEALTH));
  const port = await healthPort(h);
  await awaitProbe(port, 'ready', (r) => r.status === 200);
  const jwtDomains = () => Object.keys(JSON.parse(readFileSync(c('jwt_bundle.json'), 'utf8')) as object).sort();
  await waitFor('the partner in the JWT bundle file', () => jwtDomains().includes('partner.org'), 30_000, 100);
  const partnerJwks = JSON.parse(Buffer.from((JSON.parse(readFileSync(c('jwt_bundle.json'), 'utf8')) as Record<string, string>)['partner.org']!, 'base64').toString()) as { keys: { kid: string }[] };
  assert.deepEqual(
    partnerJwks.keys.map((k) => k.kid),
    ['partner-jwt'],
  );
  const subjects = (f: string) => certs(f).map((x) => x.subject.replace(/^.*CN=/s, ''));
  assert.deepEqual(subjects(c('fed_partner.org.pem')), ['partner valid CA'], 'omit_expired drops the expired partner CA');
  assert.ok(subjects(c('bundle.pem')).includes('partner valid CA') && !subjects(c('bundle.pem')).includes('partner expired CA'), JSON.stringify(subjects(c('bundle.pem'))));

  const del = await s.serverCli(['bundle', 'delete', '-id', partner, '-mode', 'dissociate']);
  assert.equal(del.code, 0, del.stderr);
  await waitFor('the per-domain file removed', () => !existsSync(c('fed_partner.org.pem')), 30_000, 100);
  await waitFor('bundle.pem without the partner', () => !subjects(c('bundle.pem')).includes('partner valid CA'), 30_000, 100);
  await waitFor('the JWT bundle file without the partner', () => !jwtDomains().includes('partner.org'), 30_000, 100);
  assert.deepEqual(jwtDomains(), [s.trustDomain]);
  assert.deepEqual(h.lines().filter(isRejected), [], 'nothing SPIRE sent was refused');
  assert.equal(await metric(port, 'spiffe_helper_refused_updates_total'), 0);
  const ready = await awaitProbe(port, 'ready, last_error clear', (r) => r.status === 200 && r.body.last_error === undefined, 10_000);
  assert.equal(ready.body.live, true);
  t.diagnostic(`federation with X.509 + JWT authorities: ${Date.now() - t0} ms`);
});

test('a SPIRE server outage outlasting the X.509-SVID: /ready 503 "expired", /live 200 throughout, then a new SVID, ready with last_error cleared, the child signalled', {
  skip,
  timeout: TIMEOUT,
}, async (t) => {
  const t0 = Date.now();
  const s = await spire({ serverKeyManager: 'disk' });
  // 10 s: SPIRE back-dates by 10 s, so the SVID lives 20 s and is renewed after about 10.
  await s.createEntry({ spiffeId: `spiffe://${s.trustDomain}/outage`, x509SvidTtl: 10 });
  const dir = tempDir('she-');
  const svid = join(dir, 'certs', 'svid.pem');
  const h = helper(writeConfig(dir, s.address, recorder(dir) + HEALTH));
  const port = await healthPort(h);
  await awaitProbe(port, 'ready', (r) => r.status === 200);
  await s.stopServer();
  const watch = watchLive(port);
  let live: number[];
  let down: Awaited<ReturnType<typeof awaitProbe>>;
  try {
    down = await awaitProbe(port, 'not ready: the SVID expired', (r) => r.status === 503, 60_000);
  } finally {
    live = await watch.stop();
  }
  const outage = Date.now();
  assert.match(down.body.not_ready!.join('\n'), /x509 svid: expired at /, JSON.stringify(down.body));
  assert.deepEqual(
    live.filter((c) => c !== 200),
    [],
    `liveness stayed 200 (${live.length} probes)`,
  );
  const expiredSerial = new X509Certificate(readFileSync(svid)).serialNumber;
  await s.startServer();
  const back = await awaitProbe(port, 'ready with a new SVID and last_error cleared', (r) => r.status === 200 && r.body.last_error === undefined, 120_000);
  assert.notEqual(back.body.x509_svid && new X509Certificate(readFileSync(svid)).serialNumber, expiredSerial);
  assert.match(opensslVerify(join(dir, 'certs', 'bundle.pem'), svid), /: OK/);
  await signalledPerRotation(h, dir);
  const refused = h.lines().filter(isRejected);
  t.diagnostic(`server outage past the SVID: ${Date.now() - t0} ms; back ${Date.now() - outage} ms after the restart; refused: ${JSON.stringify(refused.map((l) => l.error))}`);
  assert.equal(await metric(port, 'spiffe_helper_refused_updates_total'), refused.length);
});
