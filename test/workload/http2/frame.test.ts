/**
 * The frame parser (src/workload/http2/frame.ts): well-formed frames however the bytes are
 * cut, and a table of malformed frames, one named case each, refused with the HTTP/2 error
 * code RFC 9113 gives them before any of an oversized payload is kept.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorCode, errorName, Flag, FrameParser, FrameType, Http2Error, unpad } from '../../../src/workload/http2/frame.js';
import { frameHeader } from './peer.js';

const frame = (type: number, flags: number, stream: number, payload: Buffer | number = 0): Buffer => {
  const p = typeof payload === 'number' ? Buffer.alloc(payload) : payload;
  return Buffer.concat([frameHeader(p.length, type, flags, stream), p]);
};

describe('frame parser: well-formed input', () => {
  test('frames cut at every byte, and several frames in one chunk, come out whole and in order', () => {
    const bytes = Buffer.concat([frame(FrameType.SETTINGS, 0, 0, 12), frame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.from('hello')), frame(FrameType.PING, 0, 0, 8)]);
    for (const cut of [1, 2, 9, 10, bytes.length]) {
      const p = new FrameParser();
      const got = [];
      for (let i = 0; i < bytes.length; i += cut) got.push(...p.push(bytes.subarray(i, i + cut)));
      assert.deepEqual(
        got.map((f) => [f.type, f.flags, f.stream, f.payload.toString('latin1')]),
        [
          [FrameType.SETTINGS, 0, 0, '\0'.repeat(12)],
          [FrameType.DATA, Flag.END_STREAM, 1, 'hello'],
          [FrameType.PING, 0, 0, '\0'.repeat(8)],
        ],
        `cut every ${cut} bytes`,
      );
    }
  });

  test('the reserved bit of the stream identifier is ignored', () => {
    const f = frame(FrameType.DATA, 0, 1, 1);
    f[5]! |= 0x80;
    assert.equal(new FrameParser().push(f)[0]!.stream, 1);
  });

  test('padding and priority fields are removed from DATA and HEADERS', () => {
    const [data] = new FrameParser().push(frame(FrameType.DATA, Flag.PADDED, 1, Buffer.from([3, 0x61, 0x62, 0, 0, 0])));
    assert.equal(unpad(data!).toString(), 'ab');
    const [headers] = new FrameParser().push(frame(FrameType.HEADERS, Flag.PADDED | Flag.PRIORITY, 1, Buffer.from([1, 0, 0, 0, 3, 16, 0x82, 0])));
    assert.deepEqual(unpad(headers!), Buffer.from([0x82]));
  });
});

const malformed: { name: string; bytes: Buffer; code: number; message: RegExp }[] = [
  {
    name: 'frame larger than our SETTINGS_MAX_FRAME_SIZE (header alone)',
    bytes: frameHeader(16385, FrameType.DATA, 0, 1),
    code: ErrorCode.FRAME_SIZE_ERROR,
    message: /DATA frame of 16385 bytes, more than the maximum frame size of 16384/,
  },
  { name: 'largest length the header can carry', bytes: frameHeader(2 ** 24 - 1, FrameType.HEADERS, 4, 1), code: ErrorCode.FRAME_SIZE_ERROR, message: /16777215 bytes/ },
  { name: 'PING of 7 bytes', bytes: frame(FrameType.PING, 0, 0, 7), code: ErrorCode.FRAME_SIZE_ERROR, message: /PING frame of 7 bytes, must be 8/ },
  { name: 'RST_STREAM of 5 bytes', bytes: frame(FrameType.RST_STREAM, 0, 1, 5), code: ErrorCode.FRAME_SIZE_ERROR, message: /RST_STREAM frame of 5 bytes, must be 4/ },
  { name: 'WINDOW_UPDATE of 3 bytes', bytes: frame(FrameType.WINDOW_UPDATE, 0, 0, 3), code: ErrorCode.FRAME_SIZE_ERROR, message: /WINDOW_UPDATE frame of 3 bytes, must be 4/ },
  { name: 'PRIORITY of 4 bytes', bytes: frame(FrameType.PRIORITY, 0, 1, 4), code: ErrorCode.FRAME_SIZE_ERROR, message: /PRIORITY frame of 4 bytes, must be 5/ },
  { name: 'SETTINGS not a multiple of 6 bytes', bytes: frame(FrameType.SETTINGS, 0, 0, 7), code: ErrorCode.FRAME_SIZE_ERROR, message: /SETTINGS frame of 7 bytes, not a multiple of 6/ },
  { name: 'GOAWAY of 7 bytes', bytes: frame(FrameType.GOAWAY, 0, 0, 7), code: ErrorCode.FRAME_SIZE_ERROR, message: /GOAWAY frame of 7 bytes, fewer than 8/ },
  { name: 'SETTINGS on a stream', bytes: frame(FrameType.SETTINGS, 0, 1), code: ErrorCode.PROTOCOL_ERROR, message: /SETTINGS frame on stream 1, must be on stream 0/ },
  { name: 'PING on a stream', bytes: frame(FrameType.PING, 0, 3, 8), code: ErrorCode.PROTOCOL_ERROR, message: /PING frame on stream 3/ },
  { name: 'GOAWAY on a stream', bytes: frame(FrameType.GOAWAY, 0, 1, 8), code: ErrorCode.PROTOCOL_ERROR, message: /GOAWAY frame on stream 1/ },
  { name: 'DATA on stream 0', bytes: frame(FrameType.DATA, 0, 0, 1), code: ErrorCode.PROTOCOL_ERROR, message: /DATA frame on stream 0/ },
  { name: 'HEADERS on stream 0', bytes: frame(FrameType.HEADERS, 4, 0, 1), code: ErrorCode.PROTOCOL_ERROR, message: /HEADERS frame on stream 0/ },
  { name: 'RST_STREAM on stream 0', bytes: frame(FrameType.RST_STREAM, 0, 0, 4), code: ErrorCode.PROTOCOL_ERROR, message: /RST_STREAM frame on stream 0/ },
  { name: 'CONTINUATION on stream 0', bytes: frame(FrameType.CONTINUATION, 4, 0, 1), code: ErrorCode.PROTOCOL_ERROR, message: /CONTINUATION frame on stream 0/ },
  { name: 'PUSH_PROMISE on stream 0', bytes: frame(FrameType.PUSH_PROMISE, 4, 0, 4), code: ErrorCode.PROTOCOL_ERROR, message: /PUSH_PROMISE frame on stream 0/ },
];

describe('frame parser: malformed frames', () => {
  for (const c of malformed) {
    test(c.name, () => {
      assert.throws(
        () => new FrameParser().push(c.bytes),
        (e: unknown) =>
          e instanceof Http2Error &&
          e.h2code === c.code &&
          e.code === 'unavailable' &&
          e.reason === `http2_${errorName(c.code).toLowerCase()}` &&
          e.message.startsWith(`HTTP/2 ${errorName(c.code)}: `) &&
          c.message.test(e.message),
      );
    });
  }

  for (const [name, payload, message] of [
    ['padded DATA without a pad length', Buffer.alloc(0), /padded DATA frame without a pad length/],
    ['pad length past the payload', Buffer.from([5, 0x61]), /DATA frame padding longer than its payload/],
  ] as const) {
    test(name, () => {
      const [f] = new FrameParser().push(frame(FrameType.DATA, Flag.PADDED, 1, payload));
      assert.throws(
        () => unpad(f!),
        (e: unknown) => e instanceof Http2Error && message.test(e.message),
      );
    });
  }
});
