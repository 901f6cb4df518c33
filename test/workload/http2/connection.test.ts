/**
 * The HTTP/2 connection (src/workload/http2/connection.ts) under gRPC calls: hostile peers
 * written frame by frame (one named case each: what the call ends with, and what the client
 * tells the peer), then flow control and frame sizes against node:http2's server, a real peer.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Http2Server, type IncomingHttpHeaders } from 'node:http2';
import { createServer as createNetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { EndpointAddress } from '../../../src/workload/address.js';
import { frame } from '../../../src/workload/grpc-frame.js';
import { GrpcError, Status } from '../../../src/workload/grpc-status.js';
import { Channel, type ChannelOptions } from '../../../src/workload/grpc.js';
import { ErrorCode, Flag, FrameType, Setting } from '../../../src/workload/http2/frame.js';
import { encode, encodeInt, type HeaderField } from '../../../src/workload/http2/hpack.js';
import { tempDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { frameHeader, okTrailers, type PeerFrame, rawPeer, responseHeaders, type Send } from './peer.js';

const dir = tempDir('h2-');

function channel(address: EndpointAddress, o: Partial<ChannelOptions> = {}): Channel {
  const ch = new Channel({ address, maxReceiveBytes: 1024, keepaliveMs: 0, keepaliveTimeoutMs: 0, ...o });
  after(() => ch.close());
  return ch;
}

async function call(ch: Channel, o: { metadata?: Record<string, string>; request?: Buffer; timeoutMs?: number } = {}): Promise<{ messages: Buffer[]; error?: GrpcError }> {
  const messages: Buffer[] = [];
  try {
    await ch.call('/SpiffeWorkloadAPI/FetchX509SVID', o.request ?? Buffer.alloc(0), {
      metadata: o.metadata ?? {},
      signal: new AbortController().signal,
      timeoutMs: o.timeoutMs ?? 10_000,
      onMessage: (m) => messages.push(m),
    });
    return { messages };
  } catch (e) {
    assert.ok(e instanceof GrpcError, `not a GrpcError: ${String(e)}`);
    return { messages, error: e };
  }
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const settings = (...pairs: [number, number][]): Buffer => Buffer.concat(pairs.map(([id, v]) => Buffer.concat([Buffer.from([id >> 8, id & 0xff]), u32(v)])));
const END_HEADERS = Flag.END_HEADERS;
/** HPACK: `:status` (static name 8) with a literal value, not indexed. */
const status1xx = (code: string): Buffer => Buffer.concat([Buffer.from([0x08, code.length]), Buffer.from(code)]);

interface HostileCase {
  name: string;
  /** What the peer sends once the request's HEADERS arrive (`id`: the request's stream). */
  reply: (send: Send, id: number) => void;
  code: number;
  details: RegExp;
  /** The connection error the client reports in its GOAWAY, or the code of its RST_STREAM. */
  goaway?: number;
  rst?: number;
}

const hostile: HostileCase[] = [
  {
    name: 'SETTINGS_MAX_FRAME_SIZE below 16384',
    reply: (send) => send(FrameType.SETTINGS, 0, 0, settings([Setting.MAX_FRAME_SIZE, 1024])),
    code: Status.UNAVAILABLE,
    details: /HTTP\/2 PROTOCOL_ERROR: SETTINGS_MAX_FRAME_SIZE 1024/,
    goaway: ErrorCode.PROTOCOL_ERROR,
  },
  {
    name: 'SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1',
    reply: (send) => send(FrameType.SETTINGS, 0, 0, settings([Setting.INITIAL_WINDOW_SIZE, 2 ** 31])),
    code: Status.UNAVAILABLE,
    details: /FLOW_CONTROL_ERROR: SETTINGS_INITIAL_WINDOW_SIZE 2147483648/,
    goaway: ErrorCode.FLOW_CONTROL_ERROR,
  },
  {
    name: 'SETTINGS_ENABLE_PUSH 2',
    reply: (send) => send(FrameType.SETTINGS, 0, 0, settings([Setting.ENABLE_PUSH, 2])),
    code: Status.UNAVAILABLE,
    details: /PROTOCOL_ERROR: SETTINGS_ENABLE_PUSH 2/,
    goaway: ErrorCode.PROTOCOL_ERROR,
  },
  {
    name: 'SETTINGS ACK with a payload',
    reply: (send) => send(FrameType.SETTINGS, Flag.ACK, 0, Buffer.alloc(6)),
    code: Status.UNAVAILABLE,
    details: /FRAME_SIZE_ERROR: SETTINGS ACK with a payload of 6 bytes/,
    goaway: ErrorCode.FRAME_SIZE_ERROR,
  },
  {
    name: 'DATA frame larger than our maximum frame size',
    reply: (send, id) => send(FrameType.DATA, 0, id, Buffer.alloc(16385)),
    code: Status.UNAVAILABLE,
    details: /FRAME_SIZE_ERROR: DATA frame of 16385 bytes/,
    goaway: ErrorCode.FRAME_SIZE_ERROR,
  },
  {
    name: 'PUSH_PROMISE although push is disabled',
    reply: (send, id) => send(FrameType.PUSH_PROMISE, END_HEADERS, id, u32(2)),
    code: Status.UNAVAILABLE,
    details: /PROTOCOL_ERROR: PUSH_PROMISE received/,
    goaway: ErrorCode.PROTOCOL_ERROR,
  },
  {
    name: 'HEADERS on a stream the client never opened',
    reply: (send, id) => send(FrameType.HEADERS, END_HEADERS, id + 2, responseHeaders),
    code: Status.UNAVAILABLE,
    details: /HEADERS frame on stream 3, which this client never opened/,
    goaway: ErrorCode.PROTOCOL_ERROR,
  },
  {
    name: 'HEADERS on an even (server-initiated) stream',
    reply: (send) => send(FrameType.HEADERS, END_HEADERS, 2, responseHeaders),
    code: Status.UNAVAILABLE,
    details: /stream 2, which this client never opened/,
    goaway: ErrorCode.PROTOCOL_ERROR,
  },
  {
    name: 'CONTINUATION without HEADERS',
    reply: (send, id) => send(FrameType.CONTINUATION, END_HEADERS, id, responseHeaders),
    code: Status.UNAVAILABLE,
    details: /CONTINUATION frame on stream 1 without a header block in progress/,
    goaway: ErrorCode.PROTOCOL_ERROR,
  },
  {
    name: 'DATA inside a header block',
    reply: (send, id) => {
      send(FrameType.HEADERS, 0, id, responseHeaders);
      send(FrameType.DATA, 0, id, frame(Buffer.from('x')));
    },
    code: Status.UNAVAILABLE,
    details: /DATA frame inside the header block of stream 1, expected CONTINUATION/,
    goaway: ErrorCode.PROTOCOL_ERROR,
  },
  {
    name: 'header block past the limit across CONTINUATION frames (never ending)',
    reply: (send, id) => {
      send(FrameType.HEADERS, 0, id, Buffer.alloc(16384, 0x82));
      for (let i = 0; i < 8; i++) send(FrameType.CONTINUATION, 0, id, Buffer.alloc(16384, 0x82));
    },
    code: Status.UNAVAILABLE,
    details: /ENHANCE_YOUR_CALM: a header block of more than 65536 bytes on stream 1/,
    goaway: ErrorCode.ENHANCE_YOUR_CALM,
  },
  {
    name: 'an endless run of empty CONTINUATION frames (they add no bytes to the block)',
    reply: (send, id) => {
      send(FrameType.HEADERS, 0, id, responseHeaders);
      for (let i = 0; i < 10_000; i++) send(FrameType.CONTINUATION, 0, id, Buffer.alloc(0));
    },
    code: Status.UNAVAILABLE,
    details: /ENHANCE_YOUR_CALM: more than 64 CONTINUATION frames in the header block of stream 1/,
    goaway: ErrorCode.ENHANCE_YOUR_CALM,
  },
  {
    name: 'a frame of an unknown type inside a header block (RFC 9113 6.10: only CONTINUATION may follow)',
    reply: (send, id) => {
      send(FrameType.HEADERS, 0, id, responseHeaders);
      send(0xfa, 0, id, Buffer.alloc(1));
      send(FrameType.CONTINUATION, END_HEADERS, id, Buffer.alloc(0));
    },
    code: Status.UNAVAILABLE,
    details: /PROTOCOL_ERROR: type 250 frame inside the header block of stream 1/,
    goaway: ErrorCode.PROTOCOL_ERROR,
  },
  {
    name: 'HPACK index past the tables',
    reply: (send, id) => send(FrameType.HEADERS, END_HEADERS, id, Buffer.from([0x88, 0xff, 0x00])),
    code: Status.UNAVAILABLE,
    details: /COMPRESSION_ERROR: header block: index 127 is past the end/,
    goaway: ErrorCode.COMPRESSION_ERROR,
  },
  {
    name: 'DATA padding longer than its payload',
    reply: (send, id) => send(FrameType.DATA, Flag.PADDED, id, Buffer.from([9, 1])),
    code: Status.UNAVAILABLE,
    details: /PROTOCOL_ERROR: DATA frame padding longer/,
    goaway: ErrorCode.PROTOCOL_ERROR,
  },
  {
    name: 'WINDOW_UPDATE of 0 on the connection',
    reply: (send) => send(FrameType.WINDOW_UPDATE, 0, 0, u32(0)),
    code: Status.UNAVAILABLE,
    details: /PROTOCOL_ERROR: WINDOW_UPDATE of 0 on the connection/,
    goaway: ErrorCode.PROTOCOL_ERROR,
  },
  {
    name: 'WINDOW_UPDATE overflowing the connection window',
    reply: (send) => send(FrameType.WINDOW_UPDATE, 0, 0, u32(2 ** 31 - 1)),
    code: Status.UNAVAILABLE,
    details: /FLOW_CONTROL_ERROR: WINDOW_UPDATE overflows the connection window/,
    goaway: ErrorCode.FLOW_CONTROL_ERROR,
  },
  {
    // RFC 9113 6.9.2: the change applies to open streams; past 2^31-1 it is a connection error.
    name: 'SETTINGS_INITIAL_WINDOW_SIZE raised mid-stream past what an open stream can hold',
    reply: (send, id) => {
      // The stream's window: 65535 less the 5-byte request, then raised to 2^31-1.
      send(FrameType.WINDOW_UPDATE, 0, id, u32(2 ** 31 - 1 - 65530));
      send(FrameType.SETTINGS, 0, 0, settings([Setting.INITIAL_WINDOW_SIZE, 65536]));
    },
    code: Status.UNAVAILABLE,
    details: /FLOW_CONTROL_ERROR: SETTINGS_INITIAL_WINDOW_SIZE 65536 overflows the window of stream 1/,
    goaway: ErrorCode.FLOW_CONTROL_ERROR,
  },
  // Stream errors: the call ends INTERNAL and the stream is reset; the connection lives on.
  {
    name: 'WINDOW_UPDATE of 0 on the stream',
    reply: (send, id) => send(FrameType.WINDOW_UPDATE, 0, id, u32(0)),
    code: Status.INTERNAL,
    details: /PROTOCOL_ERROR: stream 1: WINDOW_UPDATE of 0/,
    rst: ErrorCode.PROTOCOL_ERROR,
  },
  {
    name: 'WINDOW_UPDATE overflowing the stream window',
    reply: (send, id) => send(FrameType.WINDOW_UPDATE, 0, id, u32(2 ** 31 - 1)),
    code: Status.INTERNAL,
    details: /FLOW_CONTROL_ERROR: stream 1: WINDOW_UPDATE overflows the stream window/,
    rst: ErrorCode.FLOW_CONTROL_ERROR,
  },
  {
    name: 'response headers without :status',
    reply: (send, id) => send(FrameType.HEADERS, END_HEADERS, id, responseHeaders.subarray(1)),
    code: Status.INTERNAL,
    details: /stream 1: response headers without :status/,
    rst: ErrorCode.PROTOCOL_ERROR,
  },
  {
    name: 'DATA before the response headers',
    reply: (send, id) => send(FrameType.DATA, 0, id, frame(Buffer.from('x'))),
    code: Status.INTERNAL,
    details: /stream 1: DATA before the response headers/,
    rst: ErrorCode.PROTOCOL_ERROR,
  },
  {
    name: 'an informational 1xx response with END_STREAM (RFC 9113 8.1: it must be followed by the response)',
    reply: (send, id) => send(FrameType.HEADERS, END_HEADERS | Flag.END_STREAM, id, status1xx('100')),
    code: Status.INTERNAL,
    details: /stream 1: informational response 100 with END_STREAM/,
    rst: ErrorCode.PROTOCOL_ERROR,
  },
  // RFC 9113 8.1.1, 8.2, 8.3: a malformed header block is a stream error (as node:http2 and gRPC-Go
  // treat it). Before: a repeated pseudo-header was joined ("200, 200"), the rest passed through.
  ...(
    [
      [
        'a repeated :status (RFC 9113 8.3)',
        [
          [':status', '200'],
          [':status', '200'],
          ['content-type', 'application/grpc'],
        ],
        /malformed response headers: pseudo-header :status appears twice/,
      ],
      [
        'a pseudo-header after a regular field (RFC 9113 8.3)',
        [
          ['content-type', 'application/grpc'],
          [':status', '200'],
        ],
        /malformed response headers: pseudo-header :status after a regular header field/,
      ],
      [
        'a request pseudo-header (:path) in a response (RFC 9113 8.3)',
        [
          [':status', '200'],
          [':path', '/'],
          ['content-type', 'application/grpc'],
        ],
        /malformed response headers: pseudo-header ":path" is not one of a response/,
      ],
      [
        'an unknown pseudo-header (RFC 9113 8.3)',
        [
          [':status', '200'],
          [':grpc', 'x'],
          ['content-type', 'application/grpc'],
        ],
        /malformed response headers: pseudo-header ":grpc" is not one of a response/,
      ],
      [
        'an uppercase field name (RFC 9113 8.2.1)',
        [
          [':status', '200'],
          ['Content-Type', 'application/grpc'],
        ],
        /malformed response headers: field name "Content-Type" is not a lowercase token/,
      ],
      [
        'a field name with a space (RFC 9113 8.2.1)',
        [
          [':status', '200'],
          ['content type', 'application/grpc'],
        ],
        /malformed response headers: field name "content type" is not a lowercase token/,
      ],
      [
        'an empty field name (RFC 9113 8.2.1)',
        [
          [':status', '200'],
          ['', 'x'],
          ['content-type', 'application/grpc'],
        ],
        /malformed response headers: field name "" is not a lowercase token/,
      ],
      [
        'a field value holding LF (RFC 9113 8.2.1)',
        [
          [':status', '200'],
          ['content-type', 'application/grpc'],
          ['x-a', 'a\nb'],
        ],
        /malformed response headers: the value of "x-a" holds NUL, CR or LF/,
      ],
      [
        'a connection-specific field (RFC 9113 8.2.2)',
        [
          [':status', '200'],
          ['connection', 'close'],
          ['content-type', 'application/grpc'],
        ],
        /malformed response headers: connection-specific field connection/,
      ],
      [
        'a 300-character uppercase field name, quoted cut short',
        [
          [':status', '200'],
          ['X'.repeat(300), 'x'],
        ],
        /field name "X{32}…" is not a lowercase token$/,
      ],
      // RFC 9113 8.3.2: three digits. Before: read with Number(), so "0xc8", "+200" and "200.0" were a 200.
      ...['0xc8', '+200', '200.0', ' 200', '2000', ''].map((code): [string, HeaderField[], RegExp] => [
        `:status ${JSON.stringify(code)}, not a 3-digit status code (RFC 9113 8.3.2)`,
        [
          [':status', code],
          ['content-type', 'application/grpc'],
        ],
        new RegExp(`malformed response headers: :status ${JSON.stringify(code).replace('+', '\\+')} is not a 3-digit status code$`),
      ]),
    ] as [string, HeaderField[], RegExp][]
  ).map(
    ([name, fields, details]): HostileCase => ({
      name,
      reply: (send, id) => send(FrameType.HEADERS, END_HEADERS, id, encode(fields)),
      code: Status.INTERNAL,
      details,
      rst: ErrorCode.PROTOCOL_ERROR,
    }),
  ),
  ...(
    [
      [
        'a pseudo-header in trailers (RFC 9113 8.1)',
        [
          [':status', '200'],
          ['grpc-status', '0'],
        ],
        /malformed trailers: pseudo-header ":status" in trailers/,
      ],
      ['an uppercase field name in trailers (RFC 9113 8.2.1)', [['Grpc-Status', '0']], /malformed trailers: field name "Grpc-Status" is not a lowercase token/],
    ] as [string, HeaderField[], RegExp][]
  ).map(
    ([name, fields, details]): HostileCase => ({
      name,
      reply: (send, id) => {
        send(FrameType.HEADERS, END_HEADERS, id, responseHeaders);
        send(FrameType.HEADERS, END_HEADERS | Flag.END_STREAM, id, encode(fields));
      },
      code: Status.INTERNAL,
      details,
      rst: ErrorCode.PROTOCOL_ERROR,
    }),
  ),
  {
    name: 'trailers without END_STREAM',
    reply: (send, id) => {
      send(FrameType.HEADERS, END_HEADERS, id, responseHeaders);
      send(FrameType.HEADERS, END_HEADERS, id, okTrailers);
    },
    code: Status.INTERNAL,
    details: /stream 1: trailers without END_STREAM/,
    rst: ErrorCode.PROTOCOL_ERROR,
  },
];

/** A raw socket at `socketPath` playing the agent, closed with its connections after the file. */
async function rawAgent(socketPath: string, onConnection: (c: Socket) => void): Promise<void> {
  const held: Socket[] = [];
  const server = createNetServer((c) => {
    held.push(c);
    onConnection(c);
  });
  server.listen(socketPath);
  await once(server, 'listening');
  after(() => {
    held.forEach((c) => c.destroy());
    server.close();
  });
}

describe('hostile peers: the call ends with a clear status, the peer is told why', () => {
  for (const c of hostile) {
    test(c.name, async () => {
      const peer = await rawPeer(dir, (f, send) => {
        if (f.type === FrameType.HEADERS) c.reply(send, f.stream);
      });
      const got = await call(channel(peer.address));
      assert.equal(got.error?.code, c.code, got.error?.message ?? 'OK');
      assert.match(got.error!.details, c.details);
      const told = (type: number): PeerFrame | undefined => peer.received.find((f) => f.type === type);
      if (c.goaway !== undefined) {
        await waitFor('the client GOAWAY', () => told(FrameType.GOAWAY) !== undefined);
        assert.equal(told(FrameType.GOAWAY)!.payload.readUInt32BE(4), c.goaway);
      }
      if (c.rst !== undefined) {
        await waitFor('the client RST_STREAM', () => told(FrameType.RST_STREAM) !== undefined);
        assert.equal(told(FrameType.RST_STREAM)!.payload.readUInt32BE(0), c.rst);
      }
    });
  }
});

/**
 * Peers that do not speak HTTP/2 (agent_address pointing at the wrong socket or port). Before:
 * a frame of megabytes (FRAME_SIZE_ERROR "type 80 frame of 4740180 bytes") for text, and for a
 * TLS alert on a connection left open, a partial frame waited on until the deadline.
 */
const notHttp2: [name: string, bytes: Buffer, shown: string][] = [
  ['an HTTP/1.1 server', Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'), '"HTTP/1.1 400 Bad Request"'],
  ['a TLS server (an alert, the connection left open)', Buffer.from([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46]), '15 03 01 00 02 02 46'],
  ['an SSH server', Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'), '"SSH-2.0-OpenSSH_9.6??"'],
  ['an HTTP/2 server starting with PING instead of SETTINGS', Buffer.concat([frameHeader(8, FrameType.PING, 0, 0), Buffer.alloc(8)]), '00 00 08 06 00'],
  ['an HTTP/2 server starting with a SETTINGS ACK', frameHeader(0, FrameType.SETTINGS, Flag.ACK, 0), '00 00 00 04 01'],
];

describe('a peer that does not start with the HTTP/2 server preface: UNAVAILABLE at its first bytes, showing them', () => {
  for (const [name, bytes, shown] of notHttp2) {
    test(name, async () => {
      const socketPath = join(dir, `not-h2-${notHttp2.findIndex(([n]) => n === name)}.sock`);
      await rawAgent(socketPath, (c) => {
        c.on('data', () => undefined);
        c.write(bytes);
      });
      const got = await call(channel({ kind: 'unix', socketPath, target: `unix://${socketPath}` }));
      assert.equal(got.error?.code, Status.UNAVAILABLE, got.error?.message);
      assert.match(got.error!.details, /^HTTP\/2 PROTOCOL_ERROR: the agent does not speak HTTP\/2: its first bytes, .* are not the SETTINGS frame an HTTP\/2 server starts with$/);
      assert.ok(got.error!.details.includes(shown), got.error!.details);
    });
  }
});

/** What a peer may send that carries nothing for the call: the call ends OK with its message. */
const tolerated: { name: string; reply: (send: Send, id: number) => void }[] = [
  {
    name: 'unknown frame types, on the connection and on the stream, before, between and after the responses (RFC 9113 5.5)',
    reply: (send, id) => {
      send(0xfa, 0xff, 0, Buffer.alloc(100));
      send(0xfb, 0, id, Buffer.alloc(10));
      send(FrameType.HEADERS, END_HEADERS, id, responseHeaders);
      send(0xfc, 0, id, Buffer.alloc(3));
      send(FrameType.DATA, 0, id, frame(Buffer.from('fine')));
      send(FrameType.HEADERS, END_HEADERS | Flag.END_STREAM, id, okTrailers);
    },
  },
  {
    name: 'PRIORITY frames, and HEADERS with priority fields and padding',
    reply: (send, id) => {
      send(FrameType.PRIORITY, 0, id, Buffer.from([0, 0, 0, 0, 16]));
      send(FrameType.HEADERS, END_HEADERS | Flag.PADDED | Flag.PRIORITY, id, Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 16]), responseHeaders, Buffer.alloc(3)]));
      send(FrameType.DATA, Flag.PADDED, id, Buffer.concat([Buffer.from([200]), frame(Buffer.from('fine')), Buffer.alloc(200)]));
      send(FrameType.HEADERS, END_HEADERS | Flag.END_STREAM, id, okTrailers);
    },
  },
  {
    // Before: UNKNOWN "the agent answered HTTP status 100" (gRPC-Go skips them).
    name: 'informational 1xx responses (100 Continue, 103 Early Hints) before the response headers (RFC 9113 8.1)',
    reply: (send, id) => {
      send(FrameType.HEADERS, END_HEADERS, id, status1xx('100'));
      send(FrameType.HEADERS, END_HEADERS, id, status1xx('103'));
      send(FrameType.HEADERS, END_HEADERS, id, responseHeaders);
      send(FrameType.DATA, 0, id, frame(Buffer.from('fine')));
      send(FrameType.HEADERS, END_HEADERS | Flag.END_STREAM, id, okTrailers);
    },
  },
  {
    // What RFC 9113 8.2 leaves valid, or what gRPC-Go sends as it is (a grpc-message ending in a space).
    name: 'a repeated regular field, te: trailers, and a trailer value ending in a space',
    reply: (send, id) => {
      const fields: HeaderField[] = [
        [':status', '200'],
        ['content-type', 'application/grpc'],
        ['x-a', '1'],
        ['x-a', '2'],
        ['te', 'trailers'],
      ];
      send(FrameType.HEADERS, END_HEADERS, id, encode(fields));
      send(FrameType.DATA, 0, id, frame(Buffer.from('fine')));
      send(
        FrameType.HEADERS,
        END_HEADERS | Flag.END_STREAM,
        id,
        encode([
          ['grpc-status', '0'],
          ['grpc-message', 'done '],
        ]),
      );
    },
  },
  {
    name: 'a message in 1-byte DATA frames among 5,000 empty ones',
    reply: (send, id) => {
      send(FrameType.HEADERS, END_HEADERS, id, responseHeaders);
      for (const b of frame(Buffer.from('fine'))) {
        send(FrameType.DATA, 0, id, Buffer.from([b]));
        for (let i = 0; i < 500; i++) send(FrameType.DATA, 0, id, Buffer.alloc(0));
      }
      send(FrameType.HEADERS, END_HEADERS | Flag.END_STREAM, id, okTrailers);
    },
  },
  {
    name: 'DATA, WINDOW_UPDATE and RST_STREAM on the stream after it ended',
    reply: (send, id) => {
      send(FrameType.HEADERS, END_HEADERS, id, responseHeaders);
      send(FrameType.DATA, 0, id, frame(Buffer.from('fine')));
      send(FrameType.HEADERS, END_HEADERS | Flag.END_STREAM, id, okTrailers);
      send(FrameType.DATA, 0, id, Buffer.alloc(10));
      send(FrameType.WINDOW_UPDATE, 0, id, u32(1));
      send(FrameType.RST_STREAM, 0, id, u32(ErrorCode.STREAM_CLOSED));
    },
  },
];

describe('tolerated: the call ends OK', () => {
  for (const c of tolerated) {
    test(c.name, async () => {
      const peer = await rawPeer(dir, (f, send) => {
        if (f.type === FrameType.HEADERS) c.reply(send, f.stream);
      });
      const ch = channel(peer.address);
      const got = await call(ch);
      assert.equal(got.error, undefined, got.error?.message);
      assert.deepEqual(got.messages.map(String), ['fine']);
      // The connection is still good for the next call.
      assert.equal((await call(ch)).error, undefined);
      assert.equal(peer.connections, 1);
    });
  }
});

describe('connection behaviour', () => {
  test('a header list past the limit fails that call only: the HPACK table stays in step and the next call on the connection succeeds', async () => {
    // Call 1: a 4000-byte header added to the dynamic table, then referenced 20 times (80 KB
    // decoded from 4 KB). Call 2: the response refers to the same entry.
    const big = Buffer.concat([Buffer.from([0x40, 0x01, 0x6b, ...encodeInt(4000, 7, 0)]), Buffer.alloc(4000, 0x76)]);
    const peer = await rawPeer(dir, (f, send) => {
      if (f.type !== FrameType.HEADERS) return;
      if (f.stream === 1) return send(FrameType.HEADERS, END_HEADERS | Flag.END_STREAM, 1, Buffer.concat([responseHeaders, big, Buffer.alloc(20, 0xbe)]));
      send(FrameType.HEADERS, END_HEADERS, f.stream, Buffer.concat([responseHeaders, Buffer.from([0xbe])]));
      send(FrameType.DATA, 0, f.stream, frame(Buffer.from('fine')));
      send(FrameType.HEADERS, END_HEADERS | Flag.END_STREAM, f.stream, okTrailers);
    });
    const ch = channel(peer.address);
    const first = await call(ch);
    assert.equal(first.error?.code, Status.INTERNAL);
    assert.match(first.error!.details, /header fields of 84\d+ bytes, more than the limit of 65536/);
    const second = await call(ch);
    assert.equal(second.error, undefined, second.error?.message);
    assert.deepEqual(second.messages.map(String), ['fine']);
    assert.equal(peer.connections, 1);
  });

  test('a peer that floods PINGs and reads none of the acknowledgements: ENHANCE_YOUR_CALM, not an ever-growing send buffer', async () => {
    const socketPath = join(dir, 'flood.sock');
    await rawAgent(socketPath, (c) => {
      c.write(frameHeader(0, FrameType.SETTINGS, 0, 0));
      c.once('data', () => {
        c.pause(); // reads nothing more, ever
        const ping = Buffer.concat([frameHeader(8, FrameType.PING, 0, 0), Buffer.alloc(8)]);
        c.write(Buffer.concat(Array.from({ length: 200_000 }, () => ping)));
      });
    });
    const got = await call(channel({ kind: 'unix', socketPath, target: `unix://${socketPath}` }));
    assert.equal(got.error?.code, Status.UNAVAILABLE);
    assert.match(got.error!.details, /^HTTP\/2 ENHANCE_YOUR_CALM: the agent does not read what it asks for: \d+ bytes of acknowledgements unsent$/);
  });

  // Before: nothing noticed them but the call's deadline, and for a watch (no deadline) the
  // keepalive, 5 min 20 s later; gRPC-Go gives up on a server preface after 20 s.
  for (const [name, first] of [
    ['says nothing at all', Buffer.alloc(0)],
    ['sends the first bytes of a SETTINGS frame, then nothing', frameHeader(6, FrameType.SETTINGS, 0, 0).subarray(0, 7)],
    ['sends a SETTINGS header announcing 6 bytes, then nothing', frameHeader(6, FrameType.SETTINGS, 0, 0)],
  ] as const) {
    test(`a peer that accepts the connection and ${name}: UNAVAILABLE at the connect timeout, naming it`, async () => {
      const socketPath = join(dir, `silent-${first.length}.sock`);
      await rawAgent(socketPath, (c) => {
        c.on('data', () => undefined);
        c.write(first);
      });
      const got = await call(channel({ kind: 'unix', socketPath, target: `unix://${socketPath}` }, { connectTimeoutMs: 200 }), { timeoutMs: 5000 });
      assert.equal(got.error?.code, Status.UNAVAILABLE, got.error?.message);
      assert.equal(got.error!.details, 'no HTTP/2 SETTINGS from the agent within 200 ms of connecting: it is stuck, or not an HTTP/2 server');
    });
  }

  test('once its SETTINGS came, a call that lasts longer than the connect timeout goes on', async () => {
    const peer = await rawPeer(dir, (f, send) => {
      if (f.type !== FrameType.HEADERS) return;
      setTimeout(() => {
        send(FrameType.HEADERS, END_HEADERS, f.stream, responseHeaders);
        send(FrameType.DATA, 0, f.stream, frame(Buffer.from('late')));
        send(FrameType.HEADERS, END_HEADERS | Flag.END_STREAM, f.stream, okTrailers);
      }, 300);
    });
    const got = await call(channel(peer.address, { connectTimeoutMs: 50 }));
    assert.equal(got.error, undefined, got.error?.message);
    assert.deepEqual(got.messages.map(String), ['late']);
  });

  test("the agent's PINGs are answered with an ACK carrying the same payload", async () => {
    const payload = Buffer.from('8 bytes!');
    const peer = await rawPeer(dir, (f, send) => {
      if (f.type === FrameType.HEADERS) send(FrameType.PING, 0, 0, payload);
      if (f.type === FrameType.PING && f.flags & Flag.ACK) {
        send(FrameType.HEADERS, END_HEADERS, 1, responseHeaders);
        send(FrameType.HEADERS, END_HEADERS | Flag.END_STREAM, 1, okTrailers);
      }
    });
    const got = await call(channel(peer.address));
    assert.equal(got.error, undefined, got.error?.message);
    assert.deepEqual(peer.received.find((f) => f.type === FrameType.PING)?.payload, payload);
  });

  test('GOAWAY saying the stream was never processed: the call is retried once on a new connection', async () => {
    const peer = await rawPeer(dir, (f, send, connection) => {
      if (f.type !== FrameType.HEADERS) return;
      if (connection === 0) return send(FrameType.GOAWAY, 0, 0, Buffer.concat([u32(0), u32(ErrorCode.NO_ERROR), Buffer.from('restarting')]));
      send(FrameType.HEADERS, END_HEADERS, f.stream, responseHeaders);
      send(FrameType.DATA, 0, f.stream, frame(Buffer.from('second connection')));
      send(FrameType.HEADERS, END_HEADERS | Flag.END_STREAM, f.stream, okTrailers);
    });
    const got = await call(channel(peer.address));
    assert.equal(got.error, undefined, got.error?.message);
    assert.deepEqual(got.messages.map(String), ['second connection']);
    assert.equal(peer.connections, 2);
  });

  test('GOAWAY refusing the stream on every connection: UNAVAILABLE after one retry, naming the GOAWAY and its debug data', async () => {
    const peer = await rawPeer(dir, (f, send) => {
      if (f.type === FrameType.HEADERS) send(FrameType.GOAWAY, 0, 0, Buffer.concat([u32(0), u32(ErrorCode.NO_ERROR), Buffer.from('draining\n')]));
    });
    const got = await call(channel(peer.address));
    assert.equal(got.error?.code, Status.UNAVAILABLE);
    assert.equal(got.error!.details, 'the agent ended the connection (GOAWAY NO_ERROR: draining?)');
    assert.equal(peer.connections, 2);
  });
});

/** node:http2's server, a real peer, with the given settings; `handler` answers each call. */
async function h2Server(
  serverSettings: Record<string, number>,
  handler: (stream: import('node:http2').ServerHttp2Stream, headers: IncomingHttpHeaders, body: Buffer) => void,
): Promise<{ address: EndpointAddress; server: Http2Server }> {
  const socketPath = join(dir, `real${Math.random().toString(36).slice(2)}.sock`);
  const server = createServer({ settings: serverSettings, maxSessionMemory: 100 });
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => handler(stream, headers, Buffer.concat(chunks)));
    stream.on('error', () => undefined);
  });
  server.listen(socketPath);
  await once(server, 'listening');
  after(() => server.close());
  return { address: { kind: 'unix', socketPath, target: `unix://${socketPath}` }, server };
}

describe('flow control and frame sizes against node:http2 (a real peer)', () => {
  test('a 5 MiB message across hundreds of DATA frames: the client grants the window back as it reads', async () => {
    const message = Buffer.alloc(5 * 1024 * 1024);
    for (let i = 0; i < message.length; i += 4) message.writeUInt32BE(i, i);
    const { address } = await h2Server({}, (s) => {
      s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
      s.end(frame(message));
    });
    // Without WINDOW_UPDATEs the server stops at the first window and the deadline ends the call.
    const got = await call(channel(address, { maxReceiveBytes: 6 * 1024 * 1024 }), { timeoutMs: 30_000 });
    assert.equal(got.error, undefined, got.error?.message);
    assert.equal(got.messages.length, 1);
    assert.ok(got.messages[0]!.equals(message), 'the message arrives intact');
  });

  test('a server with a 1000-byte initial window and the smallest frame size: the request body waits for WINDOW_UPDATE; headers over a frame go in CONTINUATION', async () => {
    const request = Buffer.alloc(100 * 1024, 0x61);
    const metadata = { 'x-large': 'm'.repeat(20 * 1024) };
    let seen: { headers: IncomingHttpHeaders; body: Buffer } | undefined;
    const { address } = await h2Server({ initialWindowSize: 1000, maxFrameSize: 16384, maxHeaderListSize: 64 * 1024 }, (s, headers, body) => {
      seen = { headers, body };
      s.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true });
    });
    const got = await call(channel(address), { request, metadata });
    assert.equal(got.error, undefined, got.error?.message);
    assert.equal(seen!.headers['x-large'], metadata['x-large']);
    assert.ok(seen!.body.equals(frame(request)), 'the request body arrives intact');
  });

  test('what the client sends respects the peer’s stream and connection windows, frame by frame', async () => {
    const request = Buffer.alloc(40_000, 0x62);
    const data: PeerFrame[] = [];
    const peer = await rawPeer(
      dir,
      (f, send) => {
        if (f.type !== FrameType.DATA) return;
        data.push(f);
        // Grant back what arrived, on the stream and the connection: the client must never run ahead.
        send(FrameType.WINDOW_UPDATE, 0, f.stream, u32(f.payload.length));
        send(FrameType.WINDOW_UPDATE, 0, 0, u32(f.payload.length));
        if (f.flags & Flag.END_STREAM) {
          send(FrameType.HEADERS, END_HEADERS, f.stream, responseHeaders);
          send(FrameType.HEADERS, END_HEADERS | Flag.END_STREAM, f.stream, okTrailers);
        }
      },
      [[Setting.INITIAL_WINDOW_SIZE, 3000]],
    );
    const ch = channel(peer.address);
    // The first request may go out before the peer's SETTINGS arrive, under the default window
    // of 65535; the second is sent under the 3000 bytes the peer announced.
    for (const _ of [1, 2]) {
      const got = await call(ch, { request });
      assert.equal(got.error, undefined, got.error?.message);
    }
    const second = data.filter((f) => f.stream === 3);
    assert.ok(
      second.every((f) => f.payload.length <= 3000),
      `DATA frame sizes: ${second.map((f) => f.payload.length).join(',')}`,
    );
    assert.ok(second.length >= 14, `${second.length} DATA frames`);
    assert.deepEqual(Buffer.concat(second.map((f) => f.payload)), frame(request));
    assert.equal(peer.connections, 1);
  });
});

/**
 * An agent whose SETTINGS_MAX_CONCURRENT_STREAMS is below what the helper keeps open (the X.509
 * and JWT bundle watches never end, JWT-SVID fetches come and go). Before: a call over the limit
 * failed at once ("allows no more than 1 concurrent streams", or REFUSED_STREAM when it went out
 * before the SETTINGS), and a JWT fetch behind two watches could never succeed.
 */
describe('an agent allowing fewer concurrent streams than the helper opens', () => {
  /** Two watches that stay open, then a call that ends: every one gets its answer. */
  async function watchesAndFetch(address: EndpointAddress, startTogether: boolean): Promise<void> {
    const ch = channel(address);
    const stop = new AbortController();
    const watches = [1, 2].map(() => {
      const got: Buffer[] = [];
      const done = ch.call('/SpiffeWorkloadAPI/FetchX509SVID', Buffer.alloc(0), { metadata: {}, signal: stop.signal, onMessage: (m) => got.push(m) }).catch((e: unknown) => e);
      return { got, done };
    });
    if (!startTogether) await waitFor('both watches answered', () => watches.every((w) => w.got.length > 0));
    const fetched = await call(ch, { metadata: { 'x-ends': 'yes' } });
    assert.equal(fetched.error, undefined, fetched.error?.message);
    assert.deepEqual(fetched.messages.map(String), ['answer']);
    await waitFor('both watches answered', () => watches.every((w) => w.got.length > 0));
    stop.abort();
    for (const w of watches) assert.equal(((await w.done) as GrpcError).code, Status.CANCELLED);
  }

  for (const limit of [1, 2]) {
    for (const startTogether of [true, false]) {
      test(`MAX_CONCURRENT_STREAMS ${limit} (node:http2), calls started ${startTogether ? 'together, before its SETTINGS' : 'one after another'}: each call is answered`, async () => {
        const { address } = await h2Server({ maxConcurrentStreams: limit }, (s, headers) => {
          s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: headers['x-ends'] === 'yes' });
          if (headers['x-ends'] !== 'yes') return void s.write(frame(Buffer.from('watch')));
          s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
          s.end(frame(Buffer.from('answer')));
        });
        await watchesAndFetch(address, startTogether);
      });
    }
  }

  test('a connection opened for the stream limit is closed once its call ends; the first one stays', async () => {
    // Connection 0 holds a watch that never ends; calls on any later connection are answered and end.
    const peer = await rawPeer(
      dir,
      (f, send, connection) => {
        if (f.type !== FrameType.HEADERS) return;
        send(FrameType.HEADERS, END_HEADERS, f.stream, responseHeaders);
        send(FrameType.DATA, 0, f.stream, frame(Buffer.from(`connection ${connection}`)));
        if (connection > 0) send(FrameType.HEADERS, END_HEADERS | Flag.END_STREAM, f.stream, okTrailers);
      },
      [[Setting.MAX_CONCURRENT_STREAMS, 1]],
    );
    const ch = channel(peer.address);
    const stop = new AbortController();
    const got: Buffer[] = [];
    const watch = ch.call('/SpiffeWorkloadAPI/FetchX509SVID', Buffer.alloc(0), { metadata: {}, signal: stop.signal, onMessage: (m) => got.push(m) }).catch(() => undefined);
    await waitFor('the watch answered', () => got.length > 0);
    for (const n of [1, 2]) {
      const fetched = await call(ch);
      assert.equal(fetched.error, undefined, fetched.error?.message);
      assert.deepEqual(fetched.messages.map(String), [`connection ${n}`], 'each fetch on a new connection: the idle one before it was closed');
    }
    stop.abort();
    await watch;
  });
});
