/**
 * The shipped helper (bin/spiffe-helper: the bundle under its V8 flags) against a real SPIRE
 * server + agent (test/helpers/spire.ts).
 * Run: npm run build && node --import tsx --test test/integration/spire-helper.test.ts
 * Every test skips, printing why, when SPIRE cannot be had.
 *
 * One SPIRE instance serves the whole file. Every registration entry carries the
 * `unix:uid:<our uid>` selector, so every entry matches every process of ours: the helper
 * and the probe alike. To keep each test's view exact, each test starts from "the agent
 * issues nothing" (checked), creates its entries, waits until the agent serves exactly
 * those, and deletes them again afterwards (then waits for "nothing" once more).
 */
import assert from 'node:assert/strict';
import { credentials, Metadata, status, type Client, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { fromPem, toPem } from '../../src/spiffe/pem.js';
import { workloadService } from '../../src/dev/service.js';
import type { X509SVIDResponseMessage } from '../../src/workload/proto.js';
import { issue } from '../helpers/certs.js';
import { launcherPath, runCli, startCli, writeConfig, type CliResult, type Running } from '../helpers/cli.js';
import { opensslPublicKeys, opensslUriSan, opensslVerify } from '../helpers/openssl.js';
import { spireUnavailableReason, startSpire, type EntryOptions, type Spire } from '../helpers/spire.js';
import { tempDir } from '../helpers/tmp.js';
import { delay, waitFor } from '../helpers/wait.js';

const unavailable = spireUnavailableReason();
const skip = unavailable ? `SPIRE unavailable: ${unavailable}` : false;

let spire: Spire | undefined;
let probe: Client | undefined;

before(
  async () => {
    if (skip) return;
    spire = await startSpire();
    probe = new (workloadService())(spire.address, credentials.createInsecure());
  },
  { timeout: 120_000 },
);

after(async () => {
  probe?.close();
  await spire?.stop();
});

// ---------------------------------------------------------------------------------------------
// The probe: our own minimal Workload API client (raw grpc-js), to see what the agent serves.

type Served = { ok: true; msg: X509SVIDResponseMessage } | { ok: false; code: number; details: string };

/** Opens FetchX509SVID, takes the first message (or the error), cancels. */
function fetchServed(timeoutMs = 5_000): Promise<Served> {
  const md = new Metadata();
  md.set('workload.spiffe.io', 'true');
  const c = probe as unknown as { FetchX509SVID(req: object, md: Metadata, opts: object): ClientReadableStream<X509SVIDResponseMessage> };
  const call = c.FetchX509SVID({}, md, { deadline: Date.now() + timeoutMs });
  return new Promise((resolve) => {
    let settled = false;
    const settle = (s: Served) => {
      if (settled) return;
      settled = true;
      resolve(s);
    };
    call.on('data', (msg: X509SVIDResponseMessage) => {
      settle({ ok: true, msg });
      call.cancel();
    });
    call.on('error', (e: ServiceError) => settle({ ok: false, code: e.code, details: e.details }));
    call.on('end', () => settle({ ok: false, code: -1, details: 'stream ended without a message' }));
  });
}

const describeServed = (s: Served | undefined): string =>
  !s
    ? 'nothing yet'
    : s.ok
      ? `svids ${JSON.stringify(s.msg.svids.map((v) => `${v.spiffe_id}${v.hint ? `#${v.hint}` : ''}`))}, federated ${JSON.stringify(Object.keys(s.msg.federated_bundles))}`
      : `code ${s.code} (${s.details})`;

/** Polls the agent until what it serves satisfies `pred`. */
async function awaitServed(what: string, pred: (s: Served) => boolean, timeoutMs = 20_000): Promise<Served> {
  let last: Served | undefined;
  try {
    return await waitFor(
      what,
      async () => {
        last = await fetchServed();
        return pred(last) ? last : undefined;
      },
      timeoutMs,
      100,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}; the agent last served: ${describeServed(last)}`);
  }
}

const servesNothing = (s: Served) => !s.ok && s.code === status.PERMISSION_DENIED;
const servesExactly = (ids: string[]) => (s: Served) => s.ok && JSON.stringify(s.msg.svids.map((v) => v.spiffe_id).sort()) === JSON.stringify([...ids].sort());

// ---------------------------------------------------------------------------------------------
// Entries per test, and the test wrapper that keeps every test's world exact.

const created: string[] = [];

/** Creates the entries and waits until the agent serves exactly them (plus `extra` holds). */
async function useEntries(entries: EntryOptions[], extra: (s: Served) => boolean = () => true): Promise<void> {
  for (const e of entries) created.push(await spire!.createEntry(e));
  const ids = entries.map((e) => e.spiffeId);
  await awaitServed(`the agent to serve exactly ${ids.join(', ')}`, (s) => servesExactly(ids)(s) && extra(s));
}

async function deleteCreatedEntries(): Promise<void> {
  while (created.length) await spire!.deleteEntry(created.pop()!);
  await awaitServed('the agent to issue no identity again (entries deleted)', servesNothing);
}

function spireTest(name: string, timeoutMs: number, fn: (t: TestContext, s: Spire) => Promise<void>): void {
  test(name, { skip, timeout: timeoutMs }, async (t) => {
    const t0 = Date.now();
    const s = spire;
    assert.ok(s, 'SPIRE was started in before()');
    let failed = false;
    helperRuns.length = 0;
    try {
      await awaitServed('a clean start: the agent issues no identity', servesNothing);
      await fn(t, s);
    } catch (e) {
      failed = true;
      // One diagnostic per line: the reporter flattens a multi-line one into a single line.
      const show = (title: string, text: string, n: number) => [title, ...text.trimEnd().split('\n').slice(-n)].forEach((l) => t.diagnostic(l));
      for (const h of helperRuns) show(`--- helper ${h.what} stderr (tail) ---`, h.stderr(), 80);
      show('--- SPIRE logs (tail) ---', s.logs(), 60);
      throw e;
    } finally {
      try {
        await deleteCreatedEntries();
      } catch (e) {
        if (!failed) throw e;
        t.diagnostic(`cleanup after failure failed too: ${(e as Error).message}`);
      }
      t.diagnostic(`${name}: ${Date.now() - t0} ms`);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const TD = 'example.org';
const certsOf = (dir: string, name = '') => join(dir, 'certs', name);
const read = (path: string) => readFileSync(path, 'utf8');
const mode = (path: string) => statSync(path).mode & 0o777;
const lines = (file: string): string[] => (existsSync(file) ? read(file).split('\n').filter(Boolean) : []);
/** Serials as openssl and node print them may differ in case and leading zeros. */
const normSerial = (s: string) => s.trim().toUpperCase().replace(/^0+/, '');
const serialIn = (file: string): string => {
  try {
    return normSerial(new X509Certificate(readFileSync(file)).serialNumber);
  } catch {
    return '';
  }
};
/** Serials of the certificates the helper says it wrote, in order. */
const writtenSerials = (stderr: string) => [...stderr.matchAll(/x509 svid written [^\n]*?serial=(\S+)/g)].map((m) => normSerial(m[1]!));
const derOfChain = (buf: Buffer): Buffer[] => {
  // Splits concatenated DER certificates (SEQUENCE with a long-form length).
  const out: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    const b1 = buf[at + 1]!;
    let len = b1;
    let head = 2;
    if (b1 & 0x80) {
      const n = b1 & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + buf[at + 2 + i]!;
      head = 2 + n;
    }
    out.push(buf.subarray(at, at + head + len));
    at += head + len;
  }
  return out;
};
const hexSet = (ders: Buffer[]) => ders.map((d) => d.toString('hex')).sort();

async function stopHelper(run: Running, sig: NodeJS.Signals = 'SIGTERM'): Promise<CliResult> {
  if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill(sig);
  const killer = setTimeout(() => run.child.kill('SIGKILL'), 15_000);
  try {
    return await run.result;
  } finally {
    clearTimeout(killer);
  }
}

/** The helpers the current test ran, for their logs should it fail. */
const helperRuns: { what: string; stderr: () => string }[] = [];

/** As users run it: bin/spiffe-helper, the bundle under its V8 flags. */
const shipped = { command: launcherPath };

function start(what: string, args: string[]): Running {
  const run = startCli(args, shipped);
  helperRuns.push({ what, stderr: () => run.stderr() });
  return run;
}

function daemon(dir: string, s: Spire, extra = ''): Running {
  return start('daemon', ['--config', writeConfig(dir, s.address, extra)]);
}

async function once(dir: string, s: Spire, extra = '', timeout = '20s'): Promise<CliResult> {
  const r = await runCli(['--config', writeConfig(dir, s.address, extra), '--once', '--timeout', timeout], shipped);
  helperRuns.push({ what: `one-shot (exit ${r.code ?? r.signal})`, stderr: () => r.stderr });
  return r;
}

// ---------------------------------------------------------------------------------------------
// 1

spireTest('--once writes an SVID from SPIRE that openssl verifies, with its key, at the right modes', 60_000, async (t, s) => {
  const id = `spiffe://${TD}/it/once`;
  await useEntries([{ spiffeId: id }]);
  const dir = tempDir('shs-');
  const r = await once(dir, s);
  t.diagnostic(`one-shot took ${Math.round(r.ms)} ms`);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(certsOf(dir)).sort(), ['bundle.pem', 'svid.pem', 'svid_key.pem']);
  const [svid, key, bundle] = ['svid.pem', 'svid_key.pem', 'bundle.pem'].map((f) => certsOf(dir, f)) as [string, string, string];
  assert.equal(opensslUriSan(svid), id);
  assert.match(opensslVerify(bundle, svid), /: OK/);
  const keys = opensslPublicKeys(key, svid);
  assert.equal(keys.fromKey, keys.fromCert, 'the key file holds the key of the certificate');
  assert.equal(mode(svid), 0o644);
  assert.equal(mode(bundle), 0o644);
  assert.equal(mode(key), 0o600);
  assert.match(read(key), /^-----BEGIN PRIVATE KEY-----\n/);
  // What SPIRE serves, byte for byte: the server's bundle, the agent's (cached) chain.
  assert.deepEqual(hexSet(fromPem(read(bundle), 'CERTIFICATE')), hexSet(fromPem(await s.bundlePem(), 'CERTIFICATE')), 'bundle.pem = the server bundle');
  const served = await fetchServed();
  assert.ok(served.ok, describeServed(served));
  assert.deepEqual(
    fromPem(read(svid), 'CERTIFICATE').map((d) => d.toString('hex')),
    derOfChain(Buffer.from(served.msg.svids[0]!.x509_svid)).map((d) => d.toString('hex')),
    'svid.pem = the chain the agent serves',
  );
});

// 2

spireTest('--once waits through PERMISSION_DENIED and succeeds once an entry is created', 60_000, async (t, s) => {
  const id = `spiffe://${TD}/it/late`;
  const dir = tempDir('shs-');
  const run = start('one-shot', ['--config', writeConfig(dir, s.address), '--once', '--timeout', '30s']);
  try {
    await waitFor('the helper to log a PERMISSION_DENIED retry', () => /stream interrupted; retrying [^\n]*no identity issued to this workload yet \(no identity issued\)/.test(run.stderr()));
    assert.equal(existsSync(certsOf(dir, 'svid.pem')), false, 'nothing written without an identity');
    assert.equal(run.child.exitCode, null, 'still waiting');
    const t0 = Date.now();
    created.push(await s.createEntry({ spiffeId: id }));
    const r = await run.result;
    t.diagnostic(`entry created -> one-shot exited: ${Date.now() - t0} ms`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(opensslUriSan(certsOf(dir, 'svid.pem')), id);
    assert.match(opensslVerify(certsOf(dir, 'bundle.pem'), certsOf(dir, 'svid.pem')), /: OK/);
  } finally {
    await stopHelper(run);
  }
});

// 3

/** A child that logs its start and, on SIGHUP, the serial of the svid.pem it sees then. */
const recorderScript = (dir: string) => `
echo "start $$" >> ${dir}/child.log
trap 'openssl x509 -in ${dir}/certs/svid.pem -noout -serial | cut -d= -f2 >> ${dir}/hup.log' HUP
trap 'echo term >> ${dir}/child.log; exit 42' TERM
while :; do sleep 0.05; done`;

spireTest('daemon: real SPIRE rotations replace the files and SIGHUP the child, which sees each new certificate', 90_000, async (t, s) => {
  const id = `spiffe://${TD}/it/rotating`;
  // SPIRE back-dates notBefore by 10 s and rotates at half the lifetime: about every 5 s.
  await useEntries([{ spiffeId: id, x509SvidTtl: 20 }]);
  const dir = tempDir('shs-');
  const run = daemon(dir, s, `cmd = "sh"\ncmd_args = ["-c", ${JSON.stringify(recorderScript(dir))}]\nrenew_signal = "SIGHUP"\n`);
  const svid = certsOf(dir, 'svid.pem');
  let result: CliResult | undefined;
  try {
    const seen: string[] = [];
    const t0 = Date.now();
    await waitFor(
      'the child to record 2 SIGHUPs (2 rotations)',
      () => {
        const now = serialIn(svid);
        if (now && now !== seen[seen.length - 1]) seen.push(now);
        return lines(join(dir, 'hup.log')).length >= 2;
      },
      40_000,
    );
    t.diagnostic(`2 rotations in ${Date.now() - t0} ms`);
    const hups = lines(join(dir, 'hup.log')).map(normSerial);
    // Logged before the SIGHUP was sent, but the pipe may lag the file system: wait for it.
    const written = await waitFor(
      'the helper log to show the writes',
      () => {
        const w = writtenSerials(run.stderr());
        return w.length >= hups.length + 1 ? w : undefined;
      },
      5_000,
    );
    t.diagnostic(`written ${JSON.stringify(written)}; child saw ${JSON.stringify(hups)}; sampled ${JSON.stringify(seen)}`);
    assert.equal(new Set(written).size, written.length, 'every write is a new certificate');
    // The n-th SIGHUP came after the (n+1)-th write was complete, and before the next one.
    assert.deepEqual(hups, written.slice(1, 1 + hups.length), 'each SIGHUP shows the child the certificate just written');
    for (const h of hups) assert.ok(seen.includes(h), `the test also saw ${h} in svid.pem`);
    assert.match(opensslVerify(certsOf(dir, 'bundle.pem'), svid), /: OK/);
    const keys = opensslPublicKeys(certsOf(dir, 'svid_key.pem'), svid);
    assert.equal(keys.fromKey, keys.fromCert, 'key and certificate still match after rotations');
    assert.equal(opensslUriSan(svid), id);
    assert.equal(lines(join(dir, 'child.log')).filter((l) => l.startsWith('start')).length, 1, 'the child is started exactly once');
  } finally {
    result = await stopHelper(run);
  }
  assert.equal(result.code, 42, `SIGTERM reaches the child, whose exit code (42) the helper returns: ${result.stderr}`);
  assert.deepEqual(lines(join(dir, 'child.log')).slice(-1), ['term']);
});

// 4

spireTest('hint picks the SVID among several that SPIRE issues', 60_000, async (_t, s) => {
  const internal = `spiffe://${TD}/it/internal`;
  const external = `spiffe://${TD}/it/external`;
  await useEntries(
    [
      { spiffeId: internal, hint: 'internal' },
      { spiffeId: external, hint: 'external' },
    ],
    (v) => v.ok && v.msg.svids.every((x) => x.hint !== ''),
  );
  for (const [hint, want] of [
    ['external', external],
    ['internal', internal],
  ] as const) {
    const dir = tempDir('shs-');
    const r = await once(dir, s, `hint = "${hint}"\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(opensslUriSan(certsOf(dir, 'svid.pem')), want, `hint = "${hint}"`);
    const keys = opensslPublicKeys(certsOf(dir, 'svid_key.pem'), certsOf(dir, 'svid.pem'));
    assert.equal(keys.fromKey, keys.fromCert, `hint = "${hint}": the key of the hinted SVID`);
  }
  const dir = tempDir('shs-');
  const r = await once(dir, s, `hint = "nope"\n`, '2s');
  assert.equal(r.code, 4, `an unknown hint writes nothing and times out: ${r.stderr}`);
  assert.match(r.stderr, /no valid X\.509-SVID within 2s: x509svid: no SVID has hint "nope" \(the agent sent hints: "(internal|external)", "(internal|external)"\)/);
  assert.equal(existsSync(certsOf(dir, 'svid.pem')), false);
});

// 5

spireTest('federated bundle: include_federated_domains and federated_bundle_file_name, and its removal', 60_000, async (t, s) => {
  const ca = await issue({ ca: true, uris: ['spiffe://partner.org'], name: 'partner.org CA' });
  const partnerHex = ca.der.toString('hex');
  await s.setFederatedBundle('partner.org', toPem('CERTIFICATE', ca.der));
  const dir = tempDir('shs-');
  let run: Running | undefined;
  let stopped: CliResult | undefined;
  try {
    const id = `spiffe://${TD}/it/federated`;
    await useEntries([{ spiffeId: id, federatesWith: ['partner.org'] }], (v) => v.ok && v.msg.federated_bundles['spiffe://partner.org'] !== undefined);
    run = daemon(dir, s, `include_federated_domains = true\nfederated_bundle_file_name = "fed_{trust_domain}.pem"\n`);
    const fed = certsOf(dir, 'fed_partner.org.pem');
    await waitFor('the files', () => existsSync(fed) && existsSync(certsOf(dir, 'bundle.pem')));
    // `..`-names are the helper's own (its cert_dir lock while it runs), not outputs.
    assert.deepEqual(
      readdirSync(certsOf(dir))
        .filter((n) => !n.startsWith('..'))
        .sort(),
      ['bundle.pem', 'fed_partner.org.pem', 'svid.pem', 'svid_key.pem'],
    );
    const own = fromPem(await s.bundlePem(), 'CERTIFICATE');
    assert.deepEqual(hexSet(fromPem(read(certsOf(dir, 'bundle.pem')), 'CERTIFICATE')), hexSet([...own, ca.der]), 'bundle.pem = own bundle + partner CA');
    assert.deepEqual(
      fromPem(read(fed), 'CERTIFICATE').map((d) => d.toString('hex')),
      [partnerHex],
      'fed_partner.org.pem holds the partner CA only',
    );
    assert.equal(mode(fed), 0o644);
    assert.match(opensslVerify(certsOf(dir, 'bundle.pem'), certsOf(dir, 'svid.pem')), /: OK/);

    // Every message is the whole state: the bundle gone from SPIRE must go from the files.
    const t0 = Date.now();
    await s.deleteFederatedBundle('partner.org');
    await waitFor('the per-domain file to be removed', () => !existsSync(fed));
    await waitFor('bundle.pem without the partner CA', () => !fromPem(read(certsOf(dir, 'bundle.pem')), 'CERTIFICATE').some((d) => d.toString('hex') === partnerHex));
    t.diagnostic(`federated bundle deleted -> files updated: ${Date.now() - t0} ms`);
    assert.deepEqual(hexSet(fromPem(read(certsOf(dir, 'bundle.pem')), 'CERTIFICATE')), hexSet(own));
    // The log line follows the file operations: wait for it rather than race the pipe.
    await waitFor('the helper to log the removal', () => /removed bundle file of a trust domain no longer federated file=fed_partner\.org\.pem/.test(run!.stderr()), 5_000);
  } finally {
    if (run) stopped = await stopHelper(run);
    await s.deleteFederatedBundle('partner.org').catch(() => undefined); // already gone when the test got that far
  }
  assert.equal(stopped?.code, 0, stopped?.stderr);
});

// 6

spireTest('--once writes a JWT-SVID and the JWT bundle from SPIRE; jose verifies the token with that bundle', 60_000, async (_t, s) => {
  const id = `spiffe://${TD}/it/jwt`;
  await useEntries([{ spiffeId: id, jwtSvidTtl: 300 }]);
  const dir = tempDir('shs-');
  const extra = `jwt_svids = [{ jwt_audience = "spire-it", jwt_extra_audiences = ["other"], jwt_svid_file_name = "svid.jwt" }]\njwt_bundle_file_name = "jwt_bundle.json"\n`;
  const r = await once(dir, s, extra);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(certsOf(dir)).sort(), ['bundle.pem', 'jwt_bundle.json', 'svid.jwt', 'svid.pem', 'svid_key.pem']);
  assert.equal(mode(certsOf(dir, 'svid.jwt')), 0o600);
  assert.equal(mode(certsOf(dir, 'jwt_bundle.json')), 0o600);

  const bundleDoc = JSON.parse(read(certsOf(dir, 'jwt_bundle.json'))) as Record<string, string>;
  assert.deepEqual(Object.keys(bundleDoc), [TD], 'one member per trust domain, keyed by its name');
  assert.equal(typeof bundleDoc[TD], 'string');
  const jwks = JSON.parse(Buffer.from(bundleDoc[TD]!, 'base64').toString('utf8')) as JSONWebKeySet;
  // The JWT authorities the server itself publishes (SPIFFE bundle format, use "jwt-svid").
  const shown = await s.serverCli(['bundle', 'show', '-format', 'spiffe']);
  assert.equal(shown.code, 0, shown.stderr);
  const serverKids = (JSON.parse(shown.stdout) as { keys: { use?: string; kid?: string }[] }).keys
    .filter((k) => k.use === 'jwt-svid')
    .map((k) => k.kid)
    .sort();
  assert.ok(serverKids.length > 0, 'the server has a JWT authority');
  assert.deepEqual(jwks.keys.map((k) => k.kid).sort(), serverKids, 'the bundle file holds the server’s JWT authorities');

  const token = read(certsOf(dir, 'svid.jwt'));
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'the raw compact token, nothing else');
  assert.ok(serverKids.includes(decodeProtectedHeader(token).kid), 'signed by a key in the bundle');
  const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { audience: 'spire-it' });
  assert.equal(payload.sub, id);
  const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  assert.ok(aud.includes('spire-it') && aud.includes('other'), `aud ${JSON.stringify(payload.aud)}`);
  assert.equal(payload.exp! - payload.iat!, 300, 'jwtSvidTtl of the entry');
  assert.ok(!r.stderr.includes(token), 'the token is never logged');
});

// 7

spireTest('daemon: the agent stopped and restarted underneath; files untouched meanwhile, then updates resume', 90_000, async (t, s) => {
  const id = `spiffe://${TD}/it/restart`;
  await useEntries([{ spiffeId: id, x509SvidTtl: 20 }]);
  const dir = tempDir('shs-');
  // debug: a reconnect that brings the same SVID logs "unchanged" instead of "written".
  const run = daemon(dir, s, 'log_level = "debug"\n');
  let stopped: CliResult;
  const svid = certsOf(dir, 'svid.pem');
  const interruptions = () => (run.stderr().match(/workload api stream interrupted; retrying/g) ?? []).length;
  /** True once, after the `from`-th character of stderr, the helper handled an update from the agent. */
  const updatedSince = (from: number) => /x509 svid written|x509 update unchanged/.test(run.stderr().slice(from));
  const writtenSince = (from: number) => writtenSerials(run.stderr().slice(from));
  try {
    await waitFor('the first write', () => serialIn(svid));

    for (const how of ['stopAgent + startAgent', 'restartAgent'] as const) {
      const before = interruptions();
      let t0 = Date.now();
      if (how === 'restartAgent') {
        // The quick restart: the helper may reconnect at once, so only the end result is checked.
        await s.restartAgent();
        t.diagnostic(`${how}: ${Date.now() - t0} ms`);
        await waitFor('the helper to see the stream end', () => interruptions() > before);
      } else {
        await s.stopAgent();
        await waitFor('the helper to see the stream end', () => interruptions() > before);
        // Down: the helper retries and fails; the files stay exactly as they were.
        const snapshot = { st: statSync(svid), pem: read(svid), key: read(certsOf(dir, 'svid_key.pem')), bundle: read(certsOf(dir, 'bundle.pem')) };
        await waitFor('2 more failed retries while the agent is down', () => interruptions() >= before + 3, 15_000);
        await delay(500);
        const st = statSync(svid);
        assert.equal(st.ino, snapshot.st.ino, 'svid.pem not replaced while the agent is down');
        assert.equal(st.mtimeMs, snapshot.st.mtimeMs);
        assert.equal(read(svid), snapshot.pem);
        assert.equal(read(certsOf(dir, 'svid_key.pem')), snapshot.key);
        assert.equal(read(certsOf(dir, 'bundle.pem')), snapshot.bundle);
        assert.match(run.stderr(), /stream interrupted; retrying [^\n]*FetchX509SVID: no agent at socket/, 'the retry names the missing agent');
        assert.equal(run.child.exitCode, null, 'the daemon keeps running while the agent is down');
        t.diagnostic(`agent down for ${Date.now() - t0} ms, ${interruptions() - before} failed attempts`);
        t0 = Date.now();
        await s.startAgent();
        t.diagnostic(`startAgent: ${Date.now() - t0} ms`);
      }
      const mark = run.stderr().lastIndexOf('stream interrupted; retrying');
      t0 = Date.now();
      await waitFor(`${how}: the helper to reconnect and handle an update`, () => updatedSince(mark), 20_000);
      // SPIRE may send a new SVID or the one it had (then nothing is rewritten): either is a success.
      const first = /x509 svid written|x509 update unchanged/.exec(run.stderr().slice(mark))!;
      const afterFirst = mark + first.index + first[0].length;
      const streams = interruptions();
      t.diagnostic(`${how}: reconnected after ${Date.now() - t0} ms; first update after it: "${first[0]}"`);
      // And the reconnected stream goes on: SPIRE's next rotation arrives on it.
      await waitFor(`${how}: a rotation pushed on the reconnected stream`, () => writtenSince(afterFirst).length > 0, 20_000);
      t.diagnostic(`${how}: next rotation after ${Date.now() - t0} ms`);
      assert.equal(interruptions(), streams, `the rotation came on the same stream: ${run.stderr().slice(mark)}`);
      assert.equal(opensslUriSan(svid), id);
      assert.match(opensslVerify(certsOf(dir, 'bundle.pem'), svid), /: OK/);
      const keys = opensslPublicKeys(certsOf(dir, 'svid_key.pem'), svid);
      assert.equal(keys.fromKey, keys.fromCert);
    }
    const written = writtenSerials(run.stderr());
    assert.equal(new Set(written).size, written.length, `no certificate is written twice: ${JSON.stringify(written)}`);
  } finally {
    stopped = await stopHelper(run);
  }
  assert.equal(stopped.code, 0, stopped.stderr);
});
