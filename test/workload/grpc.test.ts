/**
 * The gRPC transport (src/workload/grpc.ts) against raw node:http2 servers on Unix sockets:
 * they produce what a real agent rarely or never does (split and merged messages, oversized
 * length prefixes, compressed flags, trailers-only errors, HTTP errors, RST_STREAM codes,
 * GOAWAY, a peer that stops answering), one named case each.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { constants, type ServerHttp2Stream } from 'node:http2';
import { createServer as createNetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { EndpointAddress } from '../../src/workload/address.js';
import { frame } from '../../src/workload/grpc-frame.js';
import { GrpcError, Status } from '../../src/workload/grpc-status.js';
import { Channel, type ChannelOptions } from '../../src/workload/grpc.js';
import { rawGrpcServer, type Handler } from '../helpers/h2.js';
import { tempDir } from '../helpers/tmp.js';
import { rawPeer as framePeer, responseHeaders } from './http2/peer.js';
import { delay, waitFor } from '../helpers/wait.js';

const dir = tempDir('grpc-');
const serve = (handler: Handler) => rawGrpcServer(dir, handler);

const grpcHeaders = { ':status': 200, 'content-type': 'application/grpc' };
const ok = { 'grpc-status': '0' };

function channel(address: EndpointAddress, o: Partial<ChannelOptions> = {}): Channel {
  const ch = new Channel({ address, maxReceiveBytes: 1024, keepaliveMs: 0, keepaliveTimeoutMs: 0, ...o });
  after(() => ch.close());
  return ch;
}

interface Result {
  messages: string[];
  error?: GrpcError;
}

async function call(ch: Channel, o: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Result> {
  const messages: string[] = [];
  try {
    await ch.call('/SpiffeWorkloadAPI/FetchX509SVID', Buffer.alloc(0), {
      metadata: { 'workload.spiffe.io': 'true' },
      signal: o.signal ?? new AbortController().signal,
      timeoutMs: o.timeoutMs,
      onMessage: (m) => messages.push(m.toString()),
    });
    return { messages };
  } catch (e) {
    assert.ok(e instanceof GrpcError, `not a GrpcError: ${String(e)}`);
    return { messages, error: e };
  }
}

const m = (text: string): Buffer => frame(Buffer.from(text));
const header = (flag: number, length: number): Buffer => {
  const b = Buffer.alloc(5);
  b[0] = flag;
  b.writeUInt32BE(length, 1);
  return b;
};

/** Writes each part as its own DATA frame: the next one only after the previous left. */
async function writeApart(stream: ServerHttp2Stream, parts: Buffer[]): Promise<void> {
  for (const p of parts) {
    stream.write(p);
    await delay(3);
  }
}

interface Case {
  name: string;
  handler: Handler;
  messages?: string[];
  code?: number;
  details?: RegExp;
}

const cases: Case[] = [
  {
    name: 'several messages in one chunk',
    handler: (s) => {
      s.respond(grpcHeaders, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers(ok));
      s.end(Buffer.concat([m('one'), m('two'), m(''), m('three')]));
    },
    messages: ['one', 'two', '', 'three'],
  },
  {
    name: 'one message across chunks, its length prefix split too',
    handler: async (s) => {
      s.respond(grpcHeaders, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers(ok));
      const whole = Buffer.concat([m('split message'), m('next')]);
      await writeApart(s, [whole.subarray(0, 2), whole.subarray(2, 7), whole.subarray(7, 12), whole.subarray(12, 20), whole.subarray(20)]);
      s.end();
    },
    messages: ['split message', 'next'],
  },
  {
    name: 'a message at the size limit is accepted',
    handler: (s) => {
      s.respond(grpcHeaders, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers(ok));
      s.end(m('x'.repeat(1024)));
    },
    messages: ['x'.repeat(1024)],
  },
  {
    name: 'a length prefix over the limit is refused before the message arrives',
    handler: (s) => {
      s.respond(grpcHeaders);
      // Announces 2 GiB and sends only the prefix: a client that waited to buffer it would hang.
      s.write(header(0, 2 ** 31));
    },
    code: Status.RESOURCE_EXHAUSTED,
    details: /message of 2147483648 bytes, more than the limit of 1024 bytes/,
  },
  {
    name: 'compressed flag refused',
    handler: (s) => {
      s.respond(grpcHeaders);
      s.write(Buffer.concat([header(1, 3), Buffer.from('abc')]));
    },
    code: Status.INTERNAL,
    details: /compressed message/,
  },
  {
    name: 'invalid message flag refused',
    handler: (s) => {
      s.respond(grpcHeaders);
      s.write(Buffer.concat([header(2, 1), Buffer.from('a')]));
    },
    code: Status.INTERNAL,
    details: /invalid message flag 2/,
  },
  {
    name: 'trailers-only error: status and percent-decoded message',
    handler: (s) => s.respond({ ...grpcHeaders, 'grpc-status': '7', 'grpc-message': 'no%20identity%20issued' }, { endStream: true }),
    code: Status.PERMISSION_DENIED,
    details: /^no identity issued$/,
  },
  {
    name: 'grpc-message with percent-encoded UTF-8',
    handler: (s) => s.respond({ ...grpcHeaders, 'grpc-status': '14', 'grpc-message': 'caf%C3%A9 100%25' }, { endStream: true }),
    code: Status.UNAVAILABLE,
    details: /^café 100%$/,
  },
  {
    name: 'malformed percent-encoding kept as received',
    handler: (s) => s.respond({ ...grpcHeaders, 'grpc-status': '14', 'grpc-message': '100%zz %C3' }, { endStream: true }),
    code: Status.UNAVAILABLE,
    details: /^100%zz %C3$/,
  },
  {
    // Before: all 60,000 characters in the error, hence in every retry's log line and in /health.
    name: 'a grpc-message of 60,000 characters: cut to 1,024, saying how many were left out',
    handler: (s) => s.respond({ ...grpcHeaders, 'grpc-status': '14', 'grpc-message': 'A'.repeat(60_000) }, { endStream: true }),
    code: Status.UNAVAILABLE,
    details: /^A{1024}… \(58976 more characters\)$/,
  },
  {
    // node:http2 sends them (additionalHeaders); before: UNKNOWN "the agent answered HTTP status 103".
    name: 'a 103 Early Hints informational response before the response (skipped, as gRPC-Go does)',
    handler: (s) => {
      s.additionalHeaders({ ':status': 103, link: '</x>; rel=preload' });
      s.respond(grpcHeaders, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers(ok));
      s.end(m('state'));
    },
    messages: ['state'],
  },
  {
    name: 'messages, then an error status in the trailers',
    handler: (s) => {
      s.respond(grpcHeaders, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '14', 'grpc-message': 'agent restarting' }));
      s.end(m('state'));
    },
    messages: ['state'],
    code: Status.UNAVAILABLE,
    details: /^agent restarting$/,
  },
  {
    name: 'grpc-status that is not a code: UNKNOWN',
    handler: (s) => s.respond({ ...grpcHeaders, 'grpc-status': 'abc' }, { endStream: true }),
    code: Status.UNKNOWN,
    details: /^grpc-status "abc" is not a status code$/,
  },
  {
    name: 'grpc-status 17, past the last code: UNKNOWN naming it',
    handler: (s) => s.respond({ ...grpcHeaders, 'grpc-status': '17', 'grpc-message': '' }, { endStream: true }),
    code: Status.UNKNOWN,
    details: /^grpc-status "17" is not a status code$/,
  },
  {
    name: 'trailers without grpc-status: UNKNOWN, saying so (not an empty message)',
    handler: (s) => {
      s.respond(grpcHeaders, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers({ 'x-other': 'y' }));
      s.end(m('state'));
    },
    messages: ['state'],
    code: Status.UNKNOWN,
    details: /^the trailers hold no grpc-status$/,
  },
  {
    name: 'HTTP 503 without grpc-status: UNAVAILABLE',
    handler: (s) => s.respond({ ':status': 503 }, { endStream: true }),
    code: Status.UNAVAILABLE,
    details: /HTTP status 503/,
  },
  {
    name: 'HTTP 404 without grpc-status: UNIMPLEMENTED',
    handler: (s) => s.respond({ ':status': 404 }, { endStream: true }),
    code: Status.UNIMPLEMENTED,
  },
  {
    name: 'HTTP 401 without grpc-status: UNAUTHENTICATED',
    handler: (s) => s.respond({ ':status': 401 }, { endStream: true }),
    code: Status.UNAUTHENTICATED,
  },
  {
    name: 'content-type that is not gRPC: UNKNOWN',
    handler: (s) => {
      s.respond({ ':status': 200, 'content-type': 'text/html' });
      s.end('<html>');
    },
    code: Status.UNKNOWN,
    details: /content-type "text\/html"/,
  },
  {
    name: 'stream ends inside a message',
    handler: (s) => {
      s.respond(grpcHeaders, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers(ok));
      s.end(m('whole message').subarray(0, 9));
    },
    code: Status.INTERNAL,
    details: /ended inside a message/,
  },
  {
    name: 'stream ends without a status',
    handler: (s) => {
      s.respond(grpcHeaders);
      s.end(m('state'));
    },
    messages: ['state'],
    code: Status.INTERNAL,
    details: /without a grpc-status/,
  },
];

describe('gRPC framing and status: named cases', () => {
  for (const c of cases) {
    test(c.name, async () => {
      const server = await serve(c.handler);
      const got = await call(channel(server.address));
      assert.deepEqual(got.messages, c.messages ?? []);
      assert.equal(got.error?.code, c.code, `status: ${got.error?.message ?? 'OK'}`);
      if (c.details) assert.match(got.error!.details, c.details);
    });
  }
});

/**
 * An HTTP/2 peer written frame by frame (./http2/peer.ts), for what node:http2's server cannot
 * send: a RST_STREAM on a stream the client has half-closed (node's server would end the stream
 * cleanly first). It answers the first request with `frames` (type, flags, payload), all on that
 * request's stream.
 */
async function rawPeer(frames: [type: number, flags: number, payload: Buffer][]): Promise<EndpointAddress> {
  const peer = await framePeer(dir, (f, send) => {
    if (f.type === 1) for (const [t, flags, payload] of frames) send(t, flags, f.stream, payload);
  });
  return peer.address;
}

const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3 } as const;
const END_HEADERS = 4;
const rstPayload = (code: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(code);
  return b;
};

describe('RST_STREAM codes map to gRPC statuses', () => {
  for (const [name, rst, code] of [
    ['REFUSED_STREAM', constants.NGHTTP2_REFUSED_STREAM, Status.UNAVAILABLE],
    ['CANCEL', constants.NGHTTP2_CANCEL, Status.CANCELLED],
    ['ENHANCE_YOUR_CALM', constants.NGHTTP2_ENHANCE_YOUR_CALM, Status.RESOURCE_EXHAUSTED],
    ['INADEQUATE_SECURITY', constants.NGHTTP2_INADEQUATE_SECURITY, Status.PERMISSION_DENIED],
    ['INTERNAL_ERROR', constants.NGHTTP2_INTERNAL_ERROR, Status.INTERNAL],
    ['PROTOCOL_ERROR', constants.NGHTTP2_PROTOCOL_ERROR, Status.INTERNAL],
    // Before: "the stream ended without a grpc-status", hiding the reset.
    ['NO_ERROR', constants.NGHTTP2_NO_ERROR, Status.INTERNAL],
  ] as const) {
    test(`RST_STREAM ${name} after a message`, async () => {
      const address = await rawPeer([
        [FRAME.HEADERS, END_HEADERS, responseHeaders],
        [FRAME.DATA, 0, m('state')],
        [FRAME.RST_STREAM, 0, rstPayload(rst)],
      ]);
      const got = await call(channel(address));
      assert.deepEqual(got.messages, ['state']);
      assert.equal(got.error?.code, code, got.error?.message);
      assert.match(got.error!.details, new RegExp(`RST_STREAM ${name}`));
    });
  }
});

describe('gRPC calls', () => {
  test('request: POST to the method path with the gRPC headers, the metadata and one framed message', async () => {
    const server = await serve((s) => s.respond({ ...grpcHeaders, ...ok }, { endStream: true }));
    const ch = channel(server.address);
    await ch.call('/SpiffeWorkloadAPI/FetchJWTSVID', Buffer.from('req'), {
      metadata: { 'workload.spiffe.io': 'true' },
      signal: new AbortController().signal,
      onMessage: () => undefined,
    });
    const h = server.requests[0]!;
    assert.equal(h[':method'], 'POST');
    assert.equal(h[':path'], '/SpiffeWorkloadAPI/FetchJWTSVID');
    assert.equal(h['content-type'], 'application/grpc');
    assert.equal(h.te, 'trailers');
    assert.equal(h['workload.spiffe.io'], 'true');
    assert.equal(h['grpc-timeout'], undefined);
    await waitFor('the request body', () => server.bodies.length === 1);
    assert.deepEqual(server.bodies[0], Buffer.concat([header(0, 3), Buffer.from('req')]));
  });

  test('the oversized message is not waited for: the stream is cancelled as soon as its prefix arrives', async () => {
    const server = await serve(async (s) => {
      s.respond(grpcHeaders);
      s.write(header(0, 10 * 1024 * 1024));
      // Keep sending; the client must have reset the stream long before 10 MiB arrive.
      for (let i = 0; i < 100 && !s.closed; i++) await new Promise((r) => s.write(Buffer.alloc(64 * 1024), r));
    });
    const got = await call(channel(server.address));
    assert.equal(got.error?.code, Status.RESOURCE_EXHAUSTED);
    await waitFor('the server stream to close', () => server.closedWith.length === 1);
    assert.equal(server.closedWith[0], constants.NGHTTP2_CANCEL);
  });

  test('deadline: sent as grpc-timeout, DEADLINE_EXCEEDED when no answer comes, the stream cancelled', async () => {
    const server = await serve((s) => s.respond(grpcHeaders));
    const got = await call(channel(server.address), { timeoutMs: 150 });
    assert.equal(got.error?.code, Status.DEADLINE_EXCEEDED);
    assert.equal(server.requests[0]!['grpc-timeout'], '150m');
    await waitFor('the server stream to close', () => server.closedWith.length === 1);
    assert.equal(server.closedWith[0], constants.NGHTTP2_CANCEL);
  });

  test('cancel: CANCELLED at once, the server sees RST_STREAM CANCEL', async () => {
    const server = await serve((s) => {
      s.respond(grpcHeaders);
      s.write(m('first'));
    });
    const ac = new AbortController();
    const ch = channel(server.address);
    const messages: string[] = [];
    const done = ch.call('/SpiffeWorkloadAPI/FetchX509SVID', Buffer.alloc(0), {
      metadata: {},
      signal: ac.signal,
      onMessage: (b) => {
        messages.push(b.toString());
        ac.abort();
      },
    });
    await assert.rejects(done, (e: GrpcError) => e.code === Status.CANCELLED);
    assert.deepEqual(messages, ['first']);
    await waitFor('the server stream to close', () => server.closedWith.length === 1);
    assert.equal(server.closedWith[0], constants.NGHTTP2_CANCEL);
  });

  test('calls share one connection', async () => {
    const server = await serve((s) => s.respond({ ...grpcHeaders, ...ok }, { endStream: true }));
    const ch = channel(server.address);
    await Promise.all([call(ch), call(ch), call(ch)]);
    assert.equal(server.sessions.length, 1);
  });

  test('GOAWAY (NO_ERROR): the open stream finishes, the next call opens a new connection', async () => {
    const server = await serve((s, n) => {
      if (n > 0) return s.respond({ ...grpcHeaders, ...ok }, { endStream: true });
      s.respond(grpcHeaders, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers(ok));
      s.session!.goaway(constants.NGHTTP2_NO_ERROR, s.id);
      setTimeout(() => s.end(m('after goaway')), 20);
    });
    const ch = channel(server.address);
    assert.deepEqual(await call(ch), { messages: ['after goaway'] });
    assert.deepEqual(await call(ch), { messages: [] });
    assert.equal(server.sessions.length, 2);
  });

  test('GOAWAY with an error code: open calls end UNAVAILABLE naming it; the next call reconnects', async () => {
    const server = await serve((s, n) => {
      if (n > 0) return s.respond({ ...grpcHeaders, ...ok }, { endStream: true });
      s.respond(grpcHeaders);
      s.write(m('state'), () => s.session!.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM, 0));
    });
    const ch = channel(server.address);
    const first = await call(ch);
    assert.deepEqual(first.messages, ['state']);
    assert.equal(first.error?.code, Status.UNAVAILABLE);
    assert.match(first.error!.details, /GOAWAY ENHANCE_YOUR_CALM/);
    assert.deepEqual(await call(ch), { messages: [] });
    assert.equal(server.sessions.length, 2);
  });

  test('keepalive: a peer that stops answering PINGs ends the call UNAVAILABLE', async () => {
    // A peer that accepts the connection and then says nothing at all, like a frozen agent.
    const socketPath = join(dir, `silent.sock`);
    const held: Socket[] = [];
    const silent = createNetServer((c) => held.push(c));
    silent.listen(socketPath);
    await once(silent, 'listening');
    after(() => {
      held.forEach((c) => c.destroy());
      silent.close();
    });
    const ch = channel({ kind: 'unix', socketPath, target: `unix://${socketPath}` }, { keepaliveMs: 100, keepaliveTimeoutMs: 200 });
    const got = await call(ch);
    assert.equal(got.error?.code, Status.UNAVAILABLE);
    assert.match(got.error!.details, /keepalive: the agent did not answer a PING within 200 ms/);
  });

  test('keepalive PINGs are answered by a live peer: the stream stays open', async () => {
    let pings = 0;
    const server = await serve((s) => {
      s.session!.on('ping', () => pings++);
      s.respond(grpcHeaders, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers(ok));
      setTimeout(() => s.end(m('late')), 700);
    });
    const got = await call(channel(server.address, { keepaliveMs: 100, keepaliveTimeoutMs: 300 }));
    assert.deepEqual(got, { messages: ['late'] });
    assert.ok(pings >= 2, `pings seen: ${pings}`);
  });

  test('no socket file: UNAVAILABLE naming ENOENT', async () => {
    const socketPath = join(dir, 'missing.sock');
    const got = await call(channel({ kind: 'unix', socketPath, target: `unix://${socketPath}` }));
    assert.equal(got.error?.code, Status.UNAVAILABLE);
    assert.match(got.error!.details, /ENOENT/);
  });

  test('a closed channel refuses calls', async () => {
    const server = await serve((s) => s.respond({ ...grpcHeaders, ...ok }, { endStream: true }));
    const ch = channel(server.address);
    ch.close();
    const got = await call(ch);
    assert.equal(got.error?.code, Status.CANCELLED);
  });
});

/** HPACK literal (not indexed, new name) of a short field: the value's bytes exactly as given. */
const literal = (name: string, value: Buffer): Buffer => Buffer.concat([Buffer.from([0x00, name.length]), Buffer.from(name), Buffer.from([value.length]), value]);

describe('grpc-message bytes as they come on the wire', () => {
  for (const [name, bytes, details] of [
    // Before: "cafÃ© âœ“" (HPACK gives the bytes as latin1).
    ['raw UTF-8, not percent-encoded (gRPC-Go shows it as UTF-8)', Buffer.from('café ✓'), 'café ✓'],
    ['percent-encoded and raw UTF-8 mixed', Buffer.from('caf%C3%A9 ✓'), 'café ✓'],
    ['bytes that are not UTF-8: as received', Buffer.from([0x63, 0xe9, 0x25, 0x7a]), 'cé%z'],
  ] as const) {
    test(name, async () => {
      const block = Buffer.concat([responseHeaders, literal('grpc-status', Buffer.from('14')), literal('grpc-message', bytes)]);
      const got = await call(channel(await rawPeer([[FRAME.HEADERS, END_HEADERS | 1, block]])));
      assert.equal(got.error?.code, Status.UNAVAILABLE, got.error?.message);
      assert.equal(got.error!.details, details);
    });
  }
});
