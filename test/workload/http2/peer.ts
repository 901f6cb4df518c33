import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after } from 'node:test';
import type { EndpointAddress } from '../../../src/workload/address.js';

/**
 * An HTTP/2 server written frame by frame, for what a real server library will not send
 * (protocol violations, odd SETTINGS, GOAWAY before answering). It reads the client's frames
 * with its own 9-byte header loop (not the parser under test), acknowledges the client's
 * SETTINGS, and hands every other frame to `onFrame`.
 */
export interface PeerFrame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

export interface Peer {
  address: EndpointAddress;
  /** Every frame received from clients, in order, SETTINGS included. */
  received: PeerFrame[];
  /** Connections accepted so far. */
  connections: number;
}

export type Send = (type: number, flags: number, stream: number, payload?: Buffer) => void;

let sockets = 0;

export async function rawPeer(dir: string, onFrame: (f: PeerFrame, send: Send, connection: number) => void, settings: [id: number, value: number][] = []): Promise<Peer> {
  const socketPath = join(dir, `peer${sockets++}.sock`);
  const held: Socket[] = [];
  const peer: Peer = { address: { kind: 'unix', socketPath, target: `unix://${socketPath}` }, received: [], connections: 0 };
  const server = createServer((c) => {
    held.push(c);
    const connection = peer.connections++;
    let buf = Buffer.alloc(0);
    let prefaceSeen = false;
    const send: Send = (type, flags, stream, payload = Buffer.alloc(0)) => {
      if (c.destroyed) return;
      c.write(Buffer.concat([frameHeader(payload.length, type, flags, stream), payload]));
    };
    const s = Buffer.alloc(6 * settings.length);
    settings.forEach(([id, value], i) => {
      s.writeUInt16BE(id, 6 * i);
      s.writeUInt32BE(value, 6 * i + 2);
    });
    send(4, 0, 0, s);
    c.on('error', () => undefined);
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!prefaceSeen) {
        if (buf.length < 24) return;
        buf = buf.subarray(24);
        prefaceSeen = true;
      }
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) return;
        const f: PeerFrame = { type: buf[3]!, flags: buf[4]!, stream: buf.readUInt32BE(5) & 0x7fffffff, payload: Buffer.from(buf.subarray(9, 9 + len)) };
        buf = buf.subarray(9 + len);
        peer.received.push(f);
        if (f.type === 4 && !(f.flags & 1)) send(4, 1, 0);
        else onFrame(f, send, connection);
      }
    });
  });
  server.listen(socketPath);
  await once(server, 'listening');
  after(() => {
    held.forEach((c) => c.destroy());
    server.close();
  });
  return peer;
}

export function frameHeader(length: number, type: number, flags: number, stream: number): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return h;
}

/** HPACK: ":status: 200" (static entry 8), then content-type: application/grpc as a literal. */
export const responseHeaders = Buffer.concat([Buffer.from([0x88, 0x00, 12]), Buffer.from('content-type'), Buffer.from([16]), Buffer.from('application/grpc')]);
/** HPACK: grpc-status: 0 as a literal. */
export const okTrailers = Buffer.concat([Buffer.from([0x00, 11]), Buffer.from('grpc-status'), Buffer.from([1]), Buffer.from('0')]);
