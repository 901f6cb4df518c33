/**
 * Proves the real-SPIRE harness (test/helpers/spire.ts) against a real SPIRE server + agent.
 * Run: node --import tsx --test test/integration/spire-harness.test.ts
 * Skips (with the reason printed) when SPIRE cannot be built/found.
 */
// @peculiar/x509 (used to make a stand-in federated CA) needs the Reflect metadata API first.
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
x509.cryptoProvider.set(webcrypto);
import { credentials, Metadata, status, type Client, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { workloadService } from '../../src/dev/service.js';
import type { X509SVIDResponseMessage } from '../../src/workload/proto.js';
import { spireBinDir, spireUnavailableReason, startSpire, type Spire } from '../helpers/spire.js';

const binDir = spireBinDir();
const skip = binDir ? false : `SPIRE unavailable: ${spireUnavailableReason()}`;

type FetchResult = { ok: true; msg: X509SVIDResponseMessage } | { ok: false; code: number; details: string };

function newClient(address: string): Client {
  const Ctor = workloadService();
  return new Ctor(address, credentials.createInsecure());
}

/** Opens FetchX509SVID, takes the first message (or the error), then cancels the stream. */
function fetchFirstX509(client: Client, opts: { header?: boolean; method?: string; timeoutMs?: number } = {}): Promise<FetchResult> {
  const md = new Metadata();
  if (opts.header !== false) md.set('workload.spiffe.io', 'true');
  const method = opts.method ?? '/SpiffeWorkloadAPI/FetchX509SVID';
  const ser = (_: object) => Buffer.alloc(0); // X509SVIDRequest {} encodes to nothing
  const def = workloadService().service['FetchX509SVID'];
  assert.ok(def, 'FetchX509SVID in the service definition');
  const call: ClientReadableStream<X509SVIDResponseMessage> = client.makeServerStreamRequest(method, ser, def.responseDeserialize as (b: Buffer) => X509SVIDResponseMessage, {}, md, {
    deadline: Date.now() + (opts.timeoutMs ?? 10_000),
  });
  return new Promise((resolve) => {
    let settled = false;
    call.on('data', (msg: X509SVIDResponseMessage) => {
      if (settled) return;
      settled = true;
      resolve({ ok: true, msg });
      call.cancel();
    });
    call.on('error', (e: ServiceError) => {
      if (settled) return;
      settled = true;
      resolve({ ok: false, code: e.code, details: e.details });
    });
    call.on('end', () => {
      if (settled) return;
      settled = true;
      resolve({ ok: false, code: -1, details: 'stream ended without a message' });
    });
  });
}

/** Polls until an X.509-SVID is served; returns it and how long it took. */
async function waitForSvid(client: Client, timeoutMs = 30_000): Promise<{ msg: X509SVIDResponseMessage; ms: number; tries: number }> {
  const start = Date.now();
  let tries = 0;
  let last: FetchResult | undefined;
  while (Date.now() - start < timeoutMs) {
    tries++;
    last = await fetchFirstX509(client, { timeoutMs: 5_000 });
    if (last.ok) return { msg: last.msg, ms: Date.now() - start, tries };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no SVID after ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

/** An open FetchX509SVID stream that records every message and how it ended. */
function watchX509(client: Client) {
  const md = new Metadata();
  md.set('workload.spiffe.io', 'true');
  const call = (client as unknown as { FetchX509SVID(req: object, md: Metadata): ClientReadableStream<X509SVIDResponseMessage> }).FetchX509SVID({}, md);
  const messages: { at: number; msg: X509SVIDResponseMessage }[] = [];
  let ended: { code: number; details: string } | undefined;
  const waiters = new Set<() => void>();
  const poke = () => waiters.forEach((w) => w());
  call.on('data', (msg: X509SVIDResponseMessage) => {
    messages.push({ at: Date.now(), msg });
    poke();
  });
  call.on('error', (e: ServiceError) => {
    ended = { code: e.code, details: e.details };
    poke();
  });
  call.on('end', () => {
    ended ??= { code: -1, details: 'ended cleanly' };
    poke();
  });
  return {
    messages,
    ended: () => ended,
    /** Resolves with the first message (seen from now on) matching pred. */
    next(pred: (m: X509SVIDResponseMessage) => boolean, timeoutMs = 20_000): Promise<{ msg: X509SVIDResponseMessage; ms: number }> {
      const start = Date.now();
      const from = messages.length;
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = messages.slice(from).find((m) => pred(m.msg));
          if (hit) {
            cleanup();
            resolve({ msg: hit.msg, ms: hit.at - start });
          } else if (ended) {
            cleanup();
            reject(new Error(`stream ended: ${JSON.stringify(ended)}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no matching message in ${timeoutMs} ms (${messages.length - from} others)`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    /** Resolves when the stream has ended (error or clean end). */
    async closed(timeoutMs = 20_000): Promise<{ code: number; details: string }> {
      const deadline = Date.now() + timeoutMs;
      while (!ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      if (!ended) throw new Error('stream still open');
      return ended;
    },
    cancel: () => call.cancel(),
  };
}

/** A throw-away self-signed CA (PEM and DER) standing in for a federated trust domain's bundle. */
async function makeCa(cn: string): Promise<{ pem: string; der: Buffer }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${cn}`,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 24 * 3600_000),
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  return { pem: cert.toString('pem'), der: Buffer.from(cert.rawData) };
}

/** The first DER certificate of a concatenation (the leaf). */
function firstDer(buf: Buffer): Buffer {
  const b1 = buf[1] ?? 0;
  if ((b1 & 0x80) === 0) return buf.subarray(0, 2 + b1);
  const n = b1 & 0x7f;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + (buf[2 + i] ?? 0);
  return buf.subarray(0, 2 + n + len);
}

function pemToDer(pem: string): Buffer {
  const blocks = [...pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)];
  return Buffer.concat(blocks.map((m) => Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64')));
}

function pgrep(pattern: string): string {
  try {
    return execFileSync('pgrep', ['-af', pattern], { encoding: 'utf8' }).trim();
  } catch {
    return ''; // exit 1: nothing matched
  }
}

test('real SPIRE harness: server + agent, Workload API, restart, stop', { skip, timeout: 180_000 }, async (t) => {
  const timings: Record<string, number> = {};
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await fn();
    } finally {
      timings[name] = Date.now() - t0;
      t.diagnostic(`${name}: ${timings[name]} ms`);
    }
  };

  const spire: Spire = await phase('startSpire (server + agent healthy)', () => startSpire());
  t.diagnostic(`server healthy in ${spire.startupMs.server} ms, agent healthy in ${spire.startupMs.agent} ms; dir ${spire.dir}`);
  let client: Client | undefined;
  try {
    assert.ok(Buffer.byteLength(spire.socketPath) < 108, 'socket path fits sun_path');
    assert.equal(spire.address, `unix://${spire.socketPath}`);
    client = newClient(spire.address);
    const c = client;

    await t.test('PERMISSION_DENIED before any entry exists', async () => {
      const r = await phase('fetch without entry', () => fetchFirstX509(c));
      assert.equal(r.ok, false);
      if (!r.ok) {
        assert.equal(r.code, status.PERMISSION_DENIED, `got ${r.code} ${r.details}`);
        t.diagnostic(`PERMISSION_DENIED details: ${r.details}`);
      }
    });

    await t.test('INVALID_ARGUMENT without the security header', async () => {
      const r = await fetchFirstX509(c, { header: false });
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.code, status.INVALID_ARGUMENT, `got ${r.code} ${r.details}`);
    });

    await t.test('UNIMPLEMENTED on a packaged method path', async () => {
      const r = await fetchFirstX509(c, { method: '/spiffe.workload.SpiffeWorkloadAPI/FetchX509SVID' });
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.code, status.UNIMPLEMENTED, `got ${r.code} ${r.details}`);
    });

    const spiffeId = 'spiffe://example.org/harness/workload';
    await t.test('created entry becomes fetchable', async () => {
      const id = await phase('createEntry', () => spire.createEntry({ spiffeId, x509SvidTtl: 600 }));
      assert.match(id, /\S/);
      const got = await phase('entry -> first SVID', () => waitForSvid(c));
      t.diagnostic(`entry fetchable after ${got.ms} ms (${got.tries} tries)`);
      const svid = got.msg.svids[0];
      assert.ok(svid, 'one svid');
      assert.equal(got.msg.svids.length, 1);
      assert.equal(svid.spiffe_id, spiffeId);
      assert.ok(svid.x509_svid.length > 0, 'certificate chain');
      assert.ok(svid.x509_svid_key.length > 0, 'key');
      assert.ok(svid.bundle.length > 0, 'bundle');
      const leaf = new X509Certificate(firstDer(Buffer.from(svid.x509_svid)));
      const ttl = (Date.parse(leaf.validTo) - Date.now()) / 1000;
      assert.ok(ttl > 590 && ttl <= 601, `x509SvidTtl 600 honoured (leaf expires in ${ttl} s)`);
      assert.equal(leaf.subjectAltName, `URI:${spiffeId}`);
      const serverBundle = pemToDer(await spire.bundlePem());
      assert.ok(serverBundle.length > 0);
      assert.deepEqual(Buffer.from(svid.bundle), serverBundle, 'agent bundle = server bundle');
    });

    await t.test('jwtSvidTtl reaches FetchJWTSVID', async () => {
      const jwtId = 'spiffe://example.org/harness/jwt';
      const id = await spire.createEntry({ spiffeId: jwtId, jwtSvidTtl: 120 });
      const md = new Metadata();
      md.set('workload.spiffe.io', 'true');
      const fetchJwt = () =>
        new Promise<{ svids: { spiffe_id: string; svid: string }[] }>((resolve, reject) =>
          (c as unknown as Record<string, (...a: unknown[]) => void>)['FetchJWTSVID']!(
            { audience: ['harness-test'], spiffe_id: jwtId },
            md,
            (err: ServiceError | null, res: { svids: { spiffe_id: string; svid: string }[] }) => (err ? reject(err) : resolve(res)),
          ),
        );
      const deadline = Date.now() + 20_000;
      let res: { svids: { spiffe_id: string; svid: string }[] } | undefined;
      while (!res) {
        try {
          res = await fetchJwt();
        } catch (e) {
          if ((e as ServiceError).code !== status.PERMISSION_DENIED || Date.now() > deadline) throw e;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      const jwt = res.svids[0];
      assert.equal(jwt?.spiffe_id, jwtId);
      const claims = JSON.parse(Buffer.from(jwt.svid.split('.')[1] ?? '', 'base64url').toString()) as { sub: string; aud: string[]; exp: number; iat: number };
      assert.equal(claims.sub, jwtId);
      assert.deepEqual(claims.aud, ['harness-test']);
      assert.equal(claims.exp - claims.iat, 120);
      await spire.deleteEntry(id);
    });

    await t.test('a second entry, and its deletion, reach an open stream', async () => {
      const w = watchX509(c);
      try {
        await w.next((m) => m.svids.length === 1);
        const second = 'spiffe://example.org/harness/second';
        const id2 = await spire.createEntry({ spiffeId: second, hint: 'second' });
        const added = await phase('entry -> on open stream', () => w.next((m) => m.svids.some((s) => s.spiffe_id === second)));
        const hinted = added.msg.svids.find((s) => s.spiffe_id === second);
        assert.equal(hinted?.hint, 'second');
        await spire.deleteEntry(id2);
        await phase('deleteEntry -> gone from open stream', () => w.next((m) => !m.svids.some((s) => s.spiffe_id === second)));
        const r = await spire.serverCli(['entry', 'show', '-entryID', id2]);
        assert.notEqual(r.code, 0, 'entry show of a deleted entry fails');
      } finally {
        w.cancel();
      }
    });

    await t.test('federated bundle: set, federate, delete', async () => {
      const ca = await makeCa('partner.org test CA');
      const w = watchX509(c);
      try {
        await w.next(() => true);
        await spire.setFederatedBundle('partner.org', ca.pem);
        const fedId = 'spiffe://example.org/harness/federated';
        const id = await spire.createEntry({ spiffeId: fedId, federatesWith: ['partner.org'] });
        const got = await phase('federatesWith -> federated_bundles', () => w.next((m) => m.federated_bundles['spiffe://partner.org'] !== undefined));
        assert.deepEqual(Buffer.from(got.msg.federated_bundles['spiffe://partner.org']!), ca.der);
        await spire.deleteFederatedBundle('partner.org');
        await phase('bundle delete -> federated_bundles empty', () => w.next((m) => m.federated_bundles['spiffe://partner.org'] === undefined));
        await spire.deleteEntry(id);
      } finally {
        w.cancel();
      }
    });

    await t.test('restartAgent: open stream ends, agent comes back with the same identity', async () => {
      const w = watchX509(c);
      await w.next(() => true);
      const pidBefore = spire.pids().agent;
      await phase('stopAgent', () => spire.stopAgent());
      const end = await w.closed();
      t.diagnostic(`open stream on agent stop: code ${end.code} (${end.details})`);
      const down = await fetchFirstX509(c, { timeoutMs: 2_000 });
      assert.equal(down.ok, false);
      if (!down.ok) t.diagnostic(`fetch while agent is down: code ${down.code} (${down.details})`);
      if (!down.ok) assert.equal(down.code, status.UNAVAILABLE);
      await phase('startAgent', () => spire.startAgent());
      assert.notEqual(spire.pids().agent, pidBefore);
      const got = await phase('fetch after restart', () => waitForSvid(c));
      assert.equal(got.msg.svids[0]?.spiffe_id, spiffeId);
      await phase('restartAgent', () => spire.restartAgent());
      assert.equal((await waitForSvid(c)).msg.svids[0]?.spiffe_id, spiffeId);
    });
  } catch (e) {
    t.diagnostic(`SPIRE logs:\n${spire.logs()}`);
    throw e;
  } finally {
    client?.close();
    const { server, agent } = spire.pids();
    await phase('stop', () => spire.stop());
    await spire.stop(); // idempotent
    for (const pid of [server, agent]) {
      if (pid === undefined) continue;
      assert.throws(() => process.kill(pid, 0), 'process gone');
    }
    assert.equal(pgrep(spire.dir), '', 'no process mentions the temp dir');
    assert.equal(existsSync(spire.dir), false, 'temp dir removed');
    t.diagnostic(`timings (ms): ${JSON.stringify(timings)}`);
  }
});
