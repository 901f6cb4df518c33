/**
 * WorkloadClient over a raw HTTP/2 agent: what it sends (method path, security header, request
 * message, deadline) and what it does with what comes back (malformed messages, unary
 * cardinality, statuses that end a watch and statuses that are retried).
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { ServerHttp2Stream } from 'node:http2';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { HelperError } from '../../src/errors.js';
import { LIMITS } from '../../src/spiffe/limits.js';
import { type Fields, silentLogger } from '../../src/log.js';
import { WorkloadClient } from '../../src/workload/client.js';
import { frame } from '../../src/workload/grpc-frame.js';
import { encode, Messages } from '../../src/workload/proto.js';
import { rawGrpcServer, type Handler } from '../helpers/h2.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('wlc-');
const grpcHeaders = { ':status': 200, 'content-type': 'application/grpc' };

function answer(s: ServerHttp2Stream, messages: Buffer[], status = '0', message = ''): void {
  s.respond(grpcHeaders, { waitForTrailers: true });
  s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': status, 'grpc-message': message }));
  s.end(Buffer.concat(messages.map(frame)));
}

const x509 = (id: string) =>
  encode(Messages.X509SVIDResponse, { svids: [{ spiffe_id: id, x509_svid: Buffer.from([1]), x509_svid_key: Buffer.from([2]), bundle: Buffer.from([3]), hint: '' }], crl: [], federated_bundles: {} });

async function client(handler: Handler, retries: string[] = []) {
  const server = await rawGrpcServer(dir, handler);
  const c = new WorkloadClient({ address: server.address, log: silentLogger, backoff: { initialMs: 10, maxMs: 20 }, unaryTimeoutMs: 5000, onRetry: (rpc) => retries.push(rpc) });
  return { server, c };
}

describe('WorkloadClient', () => {
  test('a stream is a POST to /SpiffeWorkloadAPI/FetchX509SVID with workload.spiffe.io: true and an empty X509SVIDRequest', async () => {
    const ac = new AbortController();
    const { server, c } = await client((s) => answer(s, [x509('spiffe://td/a')]));
    const got: string[] = [];
    await c.watch({ rpc: 'FetchX509SVID', signal: ac.signal, onMessage: (m) => void (got.push(m.svids[0]!.spiffe_id), ac.abort()) });
    c.close();
    assert.deepEqual(got, ['spiffe://td/a']);
    assert.equal(server.requests[0]![':path'], '/SpiffeWorkloadAPI/FetchX509SVID');
    assert.equal(server.requests[0]!['workload.spiffe.io'], 'true');
    assert.deepEqual(server.bodies[0], frame(Buffer.alloc(0)));
  });

  test('a malformed message ends the stream (INTERNAL, naming the field); the watch reconnects and takes the next good one', async () => {
    const ac = new AbortController();
    const retries: string[] = [];
    const { c } = await client((s, n) => answer(s, n === 0 ? [Buffer.from([0x0a, 0x05, 0x0a])] : [x509('spiffe://td/good')]), retries);
    const got: string[] = [];
    await c.watch({ rpc: 'FetchX509SVID', signal: ac.signal, onMessage: (m) => void (got.push(m.svids[0]!.spiffe_id), ac.abort()) });
    c.close();
    assert.deepEqual(got, ['spiffe://td/good']);
    assert.deepEqual(retries, ['FetchX509SVID']);
    assert.match(c.lastError!.message, /FetchX509SVID: INTERNAL: malformed X509SVIDResponse: length 5 at byte 1 runs past the end/);
  });

  // A message too large to read, between two good ones sent in one chunk: each is seen in order,
  // the one in the middle refused in its place, and the stream goes on.
  for (const c of [
    {
      name: 'a message over the size limit',
      tooLarge: Buffer.alloc(300, 0x0a),
      maxReceiveBytes: 200,
      message: 'x509svid: the agent sent a message of 300 bytes, more than the limit of 200 bytes',
    },
    {
      name: 'a message of more fields than LIMITS.messageFields',
      tooLarge: Buffer.concat(Array.from({ length: LIMITS.messageFields + 1 }, () => Buffer.from([0x12, 0]))),
      maxReceiveBytes: undefined,
      message: `x509svid: the agent sent a message of more than ${LIMITS.messageFields} fields (X509SVIDResponse)`,
    },
  ]) {
    test(`${c.name} is a refused update (x509svid, too_large) in its place: the stream goes on and takes the next good one`, async () => {
      const ac = new AbortController();
      const retries: string[] = [];
      const refused: { rpc: string; code: string; reason: string; message: string }[] = [];
      const server = await rawGrpcServer(dir, (s) => {
        s.respond(grpcHeaders);
        s.write(Buffer.concat([frame(x509('spiffe://td/before')), frame(c.tooLarge), frame(x509('spiffe://td/after'))]));
      });
      const client = new WorkloadClient({
        address: server.address,
        log: silentLogger,
        ...(c.maxReceiveBytes === undefined ? {} : { maxReceiveBytes: c.maxReceiveBytes }),
        backoff: { initialMs: 10, maxMs: 20 },
        onRetry: (rpc) => retries.push(rpc),
        onRefused: (rpc, e) => refused.push({ rpc, code: e.code, reason: e.reason, message: e.message }),
      });
      const got: string[] = [];
      await client.watch({
        rpc: 'FetchX509SVID',
        signal: ac.signal,
        onMessage: (m) => {
          got.push(m.svids[0]!.spiffe_id);
          if (m.svids[0]!.spiffe_id !== 'spiffe://td/before') ac.abort();
        },
      });
      client.close();
      assert.deepEqual(refused, [{ rpc: 'FetchX509SVID', code: 'x509svid', reason: 'too_large', message: c.message }]);
      // Messages are complete states: "before" may be superseded by "after" while it waits.
      assert.equal(got.at(-1), 'spiffe://td/after');
      assert.deepEqual(retries, [], 'the stream was not ended');
      assert.equal(server.requests.length, 1);
    });
  }

  test('unary: an answer of more fields than LIMITS.messageFields is a refused JWT-SVID (jwtsvid, too_large), not retried here', async () => {
    const server = await rawGrpcServer(dir, (s) => answer(s, [Buffer.concat(Array.from({ length: LIMITS.messageFields + 1 }, () => Buffer.from([0x0a, 0])))]));
    const retries: string[] = [];
    const c = new WorkloadClient({ address: server.address, log: silentLogger, backoff: { initialMs: 10, maxMs: 20 }, onRetry: (rpc) => retries.push(rpc) });
    await assert.rejects(
      c.unary('FetchJWTSVID', { audience: ['a'], spiffe_id: '' }, new AbortController().signal),
      (e: unknown) =>
        e instanceof HelperError && e.code === 'jwtsvid' && e.reason === 'too_large' && e.message === `jwtsvid: the agent sent a message of more than ${LIMITS.messageFields} fields (JWTSVIDResponse)`,
    );
    c.close();
    assert.deepEqual(retries, []);
    assert.equal(server.requests.length, 1);
  });

  test('unary: an answer over the size limit is a refused JWT-SVID (jwtsvid, too_large) for the caller, not retried here', async () => {
    const ac = new AbortController();
    const retries: string[] = [];
    const server = await rawGrpcServer(dir, (s, n) => {
      // Before: retried here without end; the second call stops the test.
      if (n > 0) ac.abort();
      answer(s, [Buffer.alloc(300, 0x0a)]);
    });
    const c = new WorkloadClient({ address: server.address, log: silentLogger, maxReceiveBytes: 200, backoff: { initialMs: 10, maxMs: 20 }, onRetry: (rpc) => retries.push(rpc) });
    await assert.rejects(
      c.unary('FetchJWTSVID', { audience: ['a'], spiffe_id: '' }, ac.signal),
      (e: unknown) => e instanceof HelperError && e.code === 'jwtsvid' && e.reason === 'too_large' && e.message === 'jwtsvid: the agent sent a message of 300 bytes, more than the limit of 200 bytes',
    );
    c.close();
    assert.deepEqual(retries, []);
    assert.equal(server.requests.length, 1);
  });

  // connect() answers ECONNREFUSED for these as for a dead agent's socket: "no agent is listening" sent people looking for an agent.
  for (const [name, make, said] of [
    ['a directory', (p: string) => mkdirSync(p), "is a directory, not the agent's socket"],
    ['a regular file', (p: string) => writeFileSync(p, ''), "is a regular file, not the agent's socket"],
  ] as const) {
    test(`the address names ${name}: the error says so`, async () => {
      const socketPath = join(dir, `not-a-socket-${name.replace(/ /g, '-')}`);
      make(socketPath);
      const ac = new AbortController();
      const reasons: string[] = [];
      const c = new WorkloadClient({
        address: { kind: 'unix', socketPath, target: `unix://${socketPath}` },
        log: silentLogger,
        backoff: { initialMs: 10, maxMs: 20 },
        onRetry: (_rpc, e) => void (reasons.push(e.message), ac.abort()),
      });
      await c.watch({ rpc: 'FetchX509SVID', signal: ac.signal, onMessage: () => undefined });
      c.close();
      assert.deepEqual(reasons, [`FetchX509SVID: ${socketPath} ${said}`]);
    });
  }

  for (const [name, code] of [
    ['UNIMPLEMENTED', '12'],
    ['INVALID_ARGUMENT', '3'],
  ] as const) {
    test(`${name} ends the watch with a workload-api error, no retry`, async () => {
      const retries: string[] = [];
      const { server, c } = await client((s) => s.respond({ ...grpcHeaders, 'grpc-status': code, 'grpc-message': 'no' }, { endStream: true }), retries);
      await assert.rejects(c.watch({ rpc: 'FetchJWTBundles', signal: new AbortController().signal, onMessage: () => undefined }), (e: { code?: string }) => e.code === 'workload-api');
      c.close();
      assert.equal(server.requests.length, 1);
      assert.deepEqual(retries, []);
    });
  }

  /** The retry delays a watch logs, until `count` of them; the random part of the backoff fixed at its top. */
  async function retryDelays(handler: Handler, count: number, healthyStreamMs?: number): Promise<number[]> {
    const ac = new AbortController();
    const delays: number[] = [];
    const server = await rawGrpcServer(dir, handler);
    const log = { ...silentLogger, warn: (_msg: string, fields?: Fields) => void (delays.push(Number(fields?.retry_in_ms)) === count && ac.abort()) };
    const c = new WorkloadClient({ address: server.address, log, backoff: { initialMs: 10, maxMs: 1000, random: () => 1 }, healthyStreamMs });
    await c.watch({ rpc: 'FetchX509SVID', signal: ac.signal, onMessage: () => undefined });
    c.close();
    return delays;
  }

  // Before: every message reset the backoff, so an agent (or a proxy) that answers and then ends
  // the stream at once was reconnected to every 100-200 ms for ever, a warning each time.
  test('a stream that answers, then fails at once, again and again: the delays keep growing (a message alone does not reset the backoff)', async () => {
    const delays = await retryDelays((s) => answer(s, [x509('spiffe://td/a')], '14', 'restarting'), 6);
    assert.deepEqual(delays, [10, 20, 40, 80, 160, 320]);
  });

  test('a stream that answered and stayed open past healthyStreamMs: the next retry starts again from the initial delay', async () => {
    const delays = await retryDelays(
      async (s, n) => {
        if (n < 3) return s.respond({ ...grpcHeaders, 'grpc-status': '14' }, { endStream: true });
        s.respond(grpcHeaders, { waitForTrailers: true });
        s.write(frame(x509('spiffe://td/a')));
        await new Promise((r) => setTimeout(r, 150));
        s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '14' }));
        s.end();
      },
      4,
      50,
    );
    assert.deepEqual(delays, [10, 20, 40, 10]);
  });

  test('unary: the request is encoded, the deadline sent, a second response refused and the call retried', async () => {
    const retries: string[] = [];
    const svid = (id: string) => encode(Messages.JWTSVIDResponse, { svids: [{ spiffe_id: id, svid: 'x.y.z', hint: '' }] });
    const { server, c } = await client((s, n) => answer(s, n === 0 ? [svid('spiffe://td/one'), svid('spiffe://td/two')] : [svid('spiffe://td/one')]), retries);
    const res = await c.unary('FetchJWTSVID', { audience: ['aud'], spiffe_id: '' }, new AbortController().signal);
    c.close();
    assert.equal(res.svids[0]!.spiffe_id, 'spiffe://td/one');
    assert.deepEqual(retries, ['FetchJWTSVID']);
    assert.match(c.lastError!.message, /^FetchJWTSVID: INTERNAL: the agent sent more than one response to a unary call$/);
    assert.equal(server.requests[0]!['grpc-timeout'], '5000m');
    assert.deepEqual(server.bodies[0], frame(encode(Messages.JWTSVIDRequest, { audience: ['aud'], spiffe_id: '' })));
  });

  test('unary: a call ended OK without a response is refused and retried', async () => {
    const retries: string[] = [];
    const empty = encode(Messages.JWTSVIDResponse, { svids: [] });
    const { c } = await client((s, n) => (n === 0 ? answer(s, []) : answer(s, [empty])), retries);
    const res = await c.unary('FetchJWTSVID', { audience: ['aud'], spiffe_id: '' }, new AbortController().signal);
    c.close();
    assert.deepEqual(res, { svids: [] });
    assert.match(c.lastError!.message, /^FetchJWTSVID: INTERNAL: the agent ended the call without a response$/);
  });
});
