import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { join } from 'node:path';
import { after } from 'node:test';
import type { EndpointAddress } from '../../src/workload/address.js';

/** A node:http2 server on a Unix socket in `dir` that answers every call with `handler`: a fake agent. */
export interface RawServer {
  address: EndpointAddress;
  /** Request headers of every call, in order. */
  requests: IncomingHttpHeaders[];
  bodies: Buffer[];
  sessions: ServerHttp2Session[];
  /** RST_STREAM codes of the server's streams once closed (what the client sent or caused). */
  closedWith: number[];
}

export type Handler = (stream: ServerHttp2Stream, call: number) => void | Promise<void>;

let sockets = 0;

export async function rawGrpcServer(dir: string, handler: Handler): Promise<RawServer> {
  const socketPath = join(dir, `h${sockets++}.sock`);
  const server = createServer();
  const s: RawServer = { address: { kind: 'unix', socketPath, target: `unix://${socketPath}` }, requests: [], bodies: [], sessions: [], closedWith: [] };
  server.on('session', (session) => s.sessions.push(session));
  server.on('stream', (stream, headers) => {
    const call = s.requests.push(headers) - 1;
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => s.bodies.push(Buffer.concat(chunks)));
    stream.on('close', () => s.closedWith.push(stream.rstCode));
    stream.on('error', () => undefined);
    void handler(stream, call);
  });
  server.listen(socketPath);
  await once(server, 'listening');
  after(() => {
    for (const session of s.sessions) session.destroy();
    server.close();
  });
  return s;
}
