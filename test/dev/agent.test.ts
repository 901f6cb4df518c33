import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { credentials, Metadata, status, type Client, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { startDevAgent, type DevAgent, type DevAgentOptions } from '../../src/dev/agent.js';
import { isHelperError } from '../../src/errors.js';
import { splitDerSequence } from '../../src/spiffe/der.js';
import { parseX509Svid } from '../../src/spiffe/x509svid.js';
import { workloadService } from '../../src/dev/service.js';
import type { JWTBundlesResponseMessage, JWTSVIDResponseMessage, X509BundlesResponseMessage, X509SVIDResponseMessage } from '../../src/workload/proto.js';

const dir = mkdtempSync(join(tmpdir(), 'sh-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let sockets = 0;
const socketPath = () => join(dir, `${++sockets}.sock`);

/** Starts an agent and a client for one describe block; both closed in `after`. */
function setup(options: Partial<DevAgentOptions> = {}) {
  const ctx = {} as { agent: DevAgent; client: WorkloadClient };
  before(async () => {
    ctx.agent = await startDevAgent({ socketPath: socketPath(), ...options });
    ctx.client = connect(ctx.agent);
  });
  after(async () => {
    ctx.client?.close();
    await ctx.agent?.close();
  });
  return ctx;
}

type WorkloadClient = Client & Record<string, (...args: unknown[]) => unknown>;

function connect(agent: DevAgent): WorkloadClient {
  const Ctor = workloadService();
  return new Ctor(agent.address, credentials.createInsecure()) as unknown as WorkloadClient;
}

function withHeader(): Metadata {
  const md = new Metadata();
  md.set('workload.spiffe.io', 'true');
  return md;
}

function unary<T>(client: WorkloadClient, rpc: string, request: object, md = withHeader()): Promise<T> {
  return new Promise((resolve, reject) => {
    client[rpc]!(request, md, (err: ServiceError | null, response: T) => (err ? reject(err) : resolve(response)));
  });
}

/** A server stream read one message at a time; `next` fails on a stream error or after 5 s. */
function stream<T>(client: WorkloadClient, rpc: string, md = withHeader()) {
  const call = client[rpc]!({}, md) as ClientReadableStream<T>;
  const messages = call[Symbol.asyncIterator]();
  const next = async (timeoutMs = 5000): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no ${rpc} message within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const result = await Promise.race([messages.next(), timeout]);
      if (result.done) throw new Error(`${rpc} stream ended`);
      return result.value as T;
    } finally {
      clearTimeout(timer);
    }
  };
  return { call, next };
}

const hasCode = (code: status) => (e: unknown) => (e as ServiceError).code === code;

function leafSerial(message: X509SVIDResponseMessage, index = 0): string {
  return new X509Certificate(message.svids[index]!.x509_svid).serialNumber;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('dev agent: Workload API', () => {
  const ctx = setup({
    trustDomain: 'example.org',
    identities: [{ spiffeId: 'spiffe://example.org/web', hint: 'internal' }, { spiffeId: 'spiffe://example.org/db' }],
    federatedTrustDomains: ['partner.org'],
    intermediate: true,
  });

  it('answers calls without the security header with INVALID_ARGUMENT, and records them', async () => {
    const { client, agent } = ctx;
    await assert.rejects(unary(client, 'FetchJWTSVID', { audience: ['a'] }, new Metadata()), (e: ServiceError) => {
      return e.code === status.INVALID_ARGUMENT && e.details === 'security header missing from request';
    });
    await assert.rejects(stream(client, 'FetchX509SVID', new Metadata()).next(), hasCode(status.INVALID_ARGUMENT));
    const wrongValue = new Metadata();
    wrongValue.set('workload.spiffe.io', 'yes');
    await assert.rejects(stream(client, 'FetchJWTBundles', wrongValue).next(), hasCode(status.INVALID_ARGUMENT));
    const refused = agent.calls.filter((c) => c.metadata['workload.spiffe.io'] !== 'true');
    assert.deepEqual(
      refused.map((c) => c.method),
      ['FetchJWTSVID', 'FetchX509SVID', 'FetchJWTBundles'],
    );
  });

  it('serves X.509-SVIDs that pass validation, with hints, bundle and federated bundles', async () => {
    const s = stream<X509SVIDResponseMessage>(ctx.client, 'FetchX509SVID');
    const message = await s.next();
    s.call.cancel();
    assert.deepEqual(
      message.svids.map((v) => [v.spiffe_id, v.hint]),
      [
        ['spiffe://example.org/web', 'internal'],
        ['spiffe://example.org/db', ''],
      ],
    );
    for (const svid of message.svids) {
      const parsed = parseX509Svid({ spiffeId: svid.spiffe_id, chainDer: svid.x509_svid, keyDer: svid.x509_svid_key, hint: svid.hint });
      assert.equal(parsed.certificates.length, 2, 'leaf and intermediate');
      const root = new X509Certificate(svid.bundle);
      assert.ok(new X509Certificate(parsed.certificates[1]!.raw).verify(root.publicKey), 'the bundle root signed the intermediate');
    }
    assert.deepEqual(Object.keys(message.federated_bundles), ['spiffe://partner.org']);
    const partnerRoot = new X509Certificate(message.federated_bundles['spiffe://partner.org']!);
    assert.equal(partnerRoot.subjectAltName, 'URI:spiffe://partner.org');
    assert.deepEqual(ctx.agent.current(), message, 'current() is what the client decoded');
  });

  it('serves X.509 bundles of its own and federated trust domains', async () => {
    const s = stream<X509BundlesResponseMessage>(ctx.client, 'FetchX509Bundles');
    const message = await s.next();
    s.call.cancel();
    assert.deepEqual(Object.keys(message.bundles).sort(), ['spiffe://example.org', 'spiffe://partner.org']);
    const x509 = ctx.agent.current()!;
    assert.ok(message.bundles['spiffe://example.org']!.equals(x509.svids[0]!.bundle));
    assert.ok(message.bundles['spiffe://partner.org']!.equals(x509.federated_bundles['spiffe://partner.org']!));
  });

  it('issues JWT-SVIDs for every identity and all requested audiences', async () => {
    const response = await unary<JWTSVIDResponseMessage>(ctx.client, 'FetchJWTSVID', { audience: ['db', 'cache'] });
    assert.deepEqual(
      response.svids.map((s) => [s.spiffe_id, s.hint]),
      [
        ['spiffe://example.org/web', 'internal'],
        ['spiffe://example.org/db', ''],
      ],
    );
    const payload = JSON.parse(Buffer.from(response.svids[0]!.svid.split('.')[1]!, 'base64url').toString());
    assert.deepEqual(payload.aud, ['db', 'cache']);
    assert.equal(payload.sub, 'spiffe://example.org/web');
    assert.equal(payload.exp - payload.iat, 300);
    const recorded = ctx.agent.calls.filter((c) => c.method === 'FetchJWTSVID').at(-1)!;
    assert.deepEqual((recorded.request as { audience: string[] }).audience, ['db', 'cache']);
    assert.equal(recorded.metadata['workload.spiffe.io'], 'true');
  });

  it('filters JWT-SVIDs by spiffe_id and refuses IDs it does not hold', async () => {
    const one = await unary<JWTSVIDResponseMessage>(ctx.client, 'FetchJWTSVID', {
      audience: ['db'],
      spiffe_id: 'spiffe://example.org/db',
    });
    assert.deepEqual(
      one.svids.map((s) => s.spiffe_id),
      ['spiffe://example.org/db'],
    );
    await assert.rejects(unary(ctx.client, 'FetchJWTSVID', { audience: ['db'], spiffe_id: 'spiffe://example.org/other' }), hasCode(status.PERMISSION_DENIED));
    await assert.rejects(unary(ctx.client, 'FetchJWTSVID', { audience: [] }), hasCode(status.INVALID_ARGUMENT));
  });

  it('streams JWT bundles whose keys verify its JWT-SVIDs', async () => {
    const s = stream<JWTBundlesResponseMessage>(ctx.client, 'FetchJWTBundles');
    const message = await s.next();
    s.call.cancel();
    assert.deepEqual(Object.keys(message.bundles).sort(), ['spiffe://example.org', 'spiffe://partner.org']);
    const jwks = JSON.parse(message.bundles['spiffe://example.org']!.toString()) as { keys: { kid: string }[] };
    const { svids } = await unary<JWTSVIDResponseMessage>(ctx.client, 'FetchJWTSVID', { audience: ['db'] });
    const token = svids[0]!.svid;
    const jwk = jwks.keys.find((k) => k.kid === decodeProtectedHeader(token).kid);
    assert.ok(jwk, 'the token kid is in the bundle');
    const { payload } = await jwtVerify(token, await importJWK(jwk, 'ES256'), { audience: 'db' });
    assert.equal(payload.sub, 'spiffe://example.org/web');
  });

  it('validates its own JWT-SVIDs and rejects tampered ones', async () => {
    const { svids } = await unary<JWTSVIDResponseMessage>(ctx.client, 'FetchJWTSVID', { audience: ['db', 'cache'] });
    const token = svids[1]!.svid;
    type Value = { stringValue?: string; listValue?: { values: Value[] } };
    const ok = await unary<{ spiffe_id: string; claims: { fields: Record<string, Value> } }>(ctx.client, 'ValidateJWTSVID', {
      audience: 'cache',
      svid: token,
    });
    assert.equal(ok.spiffe_id, 'spiffe://example.org/db');
    assert.equal(ok.claims.fields['sub']!.stringValue, 'spiffe://example.org/db');
    assert.deepEqual(
      ok.claims.fields['aud']!.listValue!.values.map((v) => v.stringValue),
      ['db', 'cache'],
    );

    const [h, p, sig] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'spiffe://example.org/web' })).toString('base64url');
    await assert.rejects(unary(ctx.client, 'ValidateJWTSVID', { audience: 'cache', svid: `${h}.${forged}.${sig}` }), (e: ServiceError) => {
      return e.code === status.INVALID_ARGUMENT && /signature/.test(e.details);
    });
    await assert.rejects(unary(ctx.client, 'ValidateJWTSVID', { audience: 'other', svid: token }), hasCode(status.INVALID_ARGUMENT));
  });

  it('counts open streams and forgets cancelled ones', async () => {
    const before = ctx.agent.openStreams();
    const s = stream<X509SVIDResponseMessage>(ctx.client, 'FetchX509SVID');
    await s.next();
    assert.equal(ctx.agent.openStreams(), before + 1);
    s.call.cancel();
    await until(() => ctx.agent.openStreams() === before, 'the cancelled stream to be dropped');
  });
});

describe('dev agent: rotation', () => {
  const ctx = setup({ svidTtlSeconds: 2 });

  it('pushes new SVIDs on open streams at half the TTL', async () => {
    const x509 = stream<X509SVIDResponseMessage>(ctx.client, 'FetchX509SVID');
    const bundles = stream<X509BundlesResponseMessage>(ctx.client, 'FetchX509Bundles');
    const first = await x509.next();
    await bundles.next();
    const started = Date.now();
    const second = await x509.next(3000);
    const elapsed = Date.now() - started;
    assert.notEqual(leafSerial(second), leafSerial(first));
    assert.ok(elapsed < 1500, `rotation came after ${elapsed} ms, expected about 1000`);
    const svid = second.svids[0]!;
    parseX509Svid({ spiffeId: svid.spiffe_id, chainDer: svid.x509_svid, keyDer: svid.x509_svid_key, hint: svid.hint });
    assert.ok((await bundles.next(3000)).bundles['spiffe://example.org'], 'bundles are re-sent on rotation');
    x509.call.cancel();
    bundles.call.cancel();
  });

  it('rotate() pushes at once', async () => {
    const x509 = stream<X509SVIDResponseMessage>(ctx.client, 'FetchX509SVID');
    const first = await x509.next();
    await ctx.agent.rotate();
    const second = await x509.next(500);
    assert.notEqual(leafSerial(second), leafSerial(first));
    assert.equal(leafSerial(ctx.agent.current()!), leafSerial(second));
    x509.call.cancel();
  });
});

describe('dev agent: test hooks', () => {
  const ctx = setup({ federatedTrustDomains: ['partner.org'] });

  it('setFault answers the rpc with the error until cleared, and ends its open streams', async () => {
    const open = stream<X509SVIDResponseMessage>(ctx.client, 'FetchX509SVID');
    await open.next();
    ctx.agent.setFault('FetchX509SVID', { code: status.UNAVAILABLE, message: 'agent restarting' });
    await assert.rejects(open.next(), (e: ServiceError) => e.code === status.UNAVAILABLE && e.details === 'agent restarting');
    await assert.rejects(stream(ctx.client, 'FetchX509SVID').next(), hasCode(status.UNAVAILABLE));
    ctx.agent.setFault('FetchJWTSVID', { code: status.PERMISSION_DENIED, message: 'no identity issued' });
    await assert.rejects(unary(ctx.client, 'FetchJWTSVID', { audience: ['a'] }), hasCode(status.PERMISSION_DENIED));

    ctx.agent.setFault('FetchX509SVID', null);
    ctx.agent.setFault('FetchJWTSVID', null);
    const again = stream<X509SVIDResponseMessage>(ctx.client, 'FetchX509SVID');
    assert.equal((await again.next()).svids.length, 1);
    again.call.cancel();
    const jwt = await unary<JWTSVIDResponseMessage>(ctx.client, 'FetchJWTSVID', { audience: ['a'] });
    assert.equal(jwt.svids.length, 1);
  });

  it('pushX509 sends a raw message on open streams', async () => {
    const open = stream<X509SVIDResponseMessage>(ctx.client, 'FetchX509SVID');
    await open.next();
    ctx.agent.pushX509({ svids: [{ spiffe_id: 'spiffe://example.org/x', x509_svid: Buffer.from('garbage') }] });
    const raw = await open.next();
    assert.equal(raw.svids[0]!.spiffe_id, 'spiffe://example.org/x');
    assert.deepEqual(raw.svids[0]!.x509_svid, Buffer.from('garbage'));
    assert.deepEqual(raw.federated_bundles, {});
    assert.deepEqual(ctx.agent.current(), raw);
    open.call.cancel();
    await ctx.agent.rotate();
  });

  it('setIdentities([]) makes the agent deny identities until some are set again', async () => {
    const open = stream<X509SVIDResponseMessage>(ctx.client, 'FetchX509SVID');
    await open.next();
    ctx.agent.setIdentities([]);
    await ctx.agent.rotate();
    await assert.rejects(open.next(), (e: ServiceError) => e.code === status.PERMISSION_DENIED && e.details === 'no identity issued');
    await assert.rejects(stream(ctx.client, 'FetchX509SVID').next(), hasCode(status.PERMISSION_DENIED));
    await assert.rejects(unary(ctx.client, 'FetchJWTSVID', { audience: ['a'] }), hasCode(status.PERMISSION_DENIED));
    assert.equal(ctx.agent.current(), undefined);

    ctx.agent.setIdentities([
      { spiffeId: 'spiffe://example.org/a', hint: 'one' },
      { spiffeId: 'spiffe://example.org/b', hint: 'two' },
    ]);
    await ctx.agent.rotate();
    const back = stream<X509SVIDResponseMessage>(ctx.client, 'FetchX509SVID');
    assert.deepEqual(
      (await back.next()).svids.map((s) => s.hint),
      ['one', 'two'],
    );
    back.call.cancel();
  });

  it('setIdentities refuses IDs outside the trust domain', () => {
    assert.throws(
      () => ctx.agent.setIdentities([{ spiffeId: 'spiffe://other.org/a' }]),
      (e) => isHelperError(e, 'usage'),
    );
  });

  it('dropping a federated trust domain removes it from every stream', async () => {
    const x509 = stream<X509SVIDResponseMessage>(ctx.client, 'FetchX509SVID');
    const jwt = stream<JWTBundlesResponseMessage>(ctx.client, 'FetchJWTBundles');
    assert.ok((await x509.next()).federated_bundles['spiffe://partner.org']);
    assert.ok((await jwt.next()).bundles['spiffe://partner.org']);
    ctx.agent.setFederatedTrustDomains(['other.org']);
    await ctx.agent.rotate();
    assert.deepEqual(Object.keys((await x509.next()).federated_bundles), ['spiffe://other.org']);
    assert.deepEqual(Object.keys((await jwt.next()).bundles).sort(), ['spiffe://example.org', 'spiffe://other.org']);
    x509.call.cancel();
    jwt.call.cancel();
  });

  it('does not re-send unchanged JWT bundles on rotation', async () => {
    const jwt = stream<JWTBundlesResponseMessage>(ctx.client, 'FetchJWTBundles');
    await jwt.next();
    await ctx.agent.rotate();
    await assert.rejects(jwt.next(300), /no FetchJWTBundles message/);
    jwt.call.cancel();
  });
});

describe('dev agent: lifecycle', () => {
  it('close() ends open streams with UNAVAILABLE, removes the socket and is idempotent', async () => {
    const agent = await startDevAgent({ socketPath: socketPath() });
    const client = connect(agent);
    try {
      const open = stream<X509SVIDResponseMessage>(client, 'FetchX509SVID');
      await open.next();
      assert.ok(existsSync(agent.socketPath));
      assert.equal(agent.address, `unix://${agent.socketPath}`);
      await Promise.all([agent.close(), agent.close()]);
      await assert.rejects(open.next(), hasCode(status.UNAVAILABLE));
      assert.equal(existsSync(agent.socketPath), false);
      assert.equal(agent.openStreams(), 0);
      await agent.close();
    } finally {
      client.close();
      await agent.close();
    }
  });

  it('refuses a socket path that a live agent holds, or that is not a socket', async () => {
    const path = socketPath();
    const live = await startDevAgent({ socketPath: path });
    try {
      await assert.rejects(startDevAgent({ socketPath: path }), (e) => isHelperError(e, 'address') && /another process is listening/.test(e.message));
    } finally {
      await live.close();
    }
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'not a socket');
    await assert.rejects(startDevAgent({ socketPath: file }), (e) => isHelperError(e, 'address') && /not a socket/.test(e.message));
  });

  it('replaces a stale socket left by a dead process', async () => {
    const path = socketPath();
    // SIGKILL skips the server's cleanup, so the socket file stays behind.
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    assert.ok(existsSync(path), 'the dead process left its socket');
    const agent = await startDevAgent({ socketPath: path });
    const client = connect(agent);
    try {
      const response = await unary<JWTSVIDResponseMessage>(client, 'FetchJWTSVID', { audience: ['a'] });
      assert.equal(response.svids[0]!.spiffe_id, 'spiffe://example.org/workload');
    } finally {
      client.close();
      await agent.close();
    }
  });

  it('rejects socket paths over the Unix limit and TTLs under 2 s', async () => {
    await assert.rejects(startDevAgent({ socketPath: `/tmp/${'x'.repeat(120)}.sock` }), (e) => isHelperError(e, 'address'));
    await assert.rejects(startDevAgent({ socketPath: socketPath(), svidTtlSeconds: 1 }), (e) => isHelperError(e, 'usage'));
  });

  it('issues one chain certificate per identity without an intermediate', async () => {
    const agent = await startDevAgent({ socketPath: socketPath(), keyType: 'ec-p384' });
    try {
      const svid = agent.current()!.svids[0]!;
      assert.equal(splitDerSequence(svid.x509_svid).length, 1);
      const parsed = parseX509Svid({ spiffeId: svid.spiffe_id, chainDer: svid.x509_svid, keyDer: svid.x509_svid_key, hint: '' });
      assert.equal(parsed.certificates[0]!.publicKey.curve, '1.3.132.0.34', 'secp384r1');
    } finally {
      await agent.close();
    }
  });
});
