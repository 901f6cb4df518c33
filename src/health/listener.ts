/** The health listener: liveness, readiness and metrics over HTTP, bounded against abuse. */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import { METRICS_PATH, type HealthConfig } from '../config/config.js';
import { describeError, HelperError } from '../errors.js';
import type { Logger } from '../log.js';
import { METRICS_CONTENT_TYPE } from '../metrics.js';
import type { HealthState } from './state.js';

/**
 * What the listener may hold, so that no client can take the descriptors the helper needs for
 * its files, its agent connection and its child: probes and a scraper need a handful of
 * connections, each done in milliseconds. Over the cap, the oldest connection is closed to make
 * room: a probe lasts milliseconds, so the oldest is one left idle or trickling its request
 * (Node checks the header and request timeouts only every 30 s), and a new probe always gets
 * in. Idle connections close within seconds by their own socket timer, so an idle helper has
 * no periodic wake-up for this. A probe has no body and is not pipelined: a request with a
 * body is answered and its connection closed rather than read, and a connection with more
 * requests awaiting their answers than `pipelined` (a client that sends without reading) is
 * closed, so neither can make the helper buffer or compute without bound.
 */
const LISTENER_LIMITS = { maxConnections: 32, idleMs: 5_000, requestMs: 5_000, pipelined: 4 } as const;

/** Serves liveness and readiness (and metrics); a port already in use is a start-up error. */
export async function startHealthServer(config: HealthConfig, state: HealthState, log: Logger): Promise<Server> {
  // Not an ESM import: on Node 22+ importing node:http as ESM evaluates every export, which
  // loads fetch (undici) and zlib, ~50 ms of start-up for every run, health checks or not.
  const { createServer } = process.getBuiltinModule('node:http');
  const unanswered = new WeakMap<Socket, number>();
  const server = createServer({ headersTimeout: LISTENER_LIMITS.requestMs, requestTimeout: LISTENER_LIMITS.requestMs, keepAliveTimeout: LISTENER_LIMITS.idleMs }, (req, res) => {
    const socket = req.socket;
    const waiting = (unanswered.get(socket) ?? 0) + 1;
    if (waiting > LISTENER_LIMITS.pipelined) {
      socket.destroy();
      return;
    }
    unanswered.set(socket, waiting);
    res.once('close', () => unanswered.set(socket, (unanswered.get(socket) ?? 1) - 1));
    if (hasBody(req)) {
      res.shouldKeepAlive = false;
      lingerOnClose(socket);
    }
    const { status, type, body } = answerSafely(requestPath(req.url ?? ''), req.method ?? '', config, state, log);
    res.writeHead(status, { 'content-type': type }).end(body);
  });
  const open = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    if (open.size > LISTENER_LIMITS.maxConnections) open.values().next().value!.destroy();
  });
  server.timeout = LISTENER_LIMITS.idleMs;
  const host = config.bindAddress.replace(/^\[(.*)\]$/, '$1');
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(listenError(e, config, host)));
    server.listen(config.port, host, resolve);
  });
  const addr = server.address();
  log.info('health listener started', {
    address: typeof addr === 'object' && addr ? hostPort(addr.address, addr.port) : String(addr),
    liveness: config.livenessPath,
    readiness: config.readinessPath,
    metrics: config.metricsEnabled ? METRICS_PATH : undefined,
  });
  return server;
}

/**
 * A probe reads the disk and /proc (which fail under descriptor exhaustion, say): whatever
 * fails is a 500 for that request, logged, never an exception that would crash the helper.
 */
function answerSafely(path: string, method: string, config: HealthConfig, state: HealthState, log: Logger): { status: number; type: string; body: string } {
  try {
    return answer(path, method, config, state);
  } catch (e) {
    log.error('health request failed', { path, error: describeError(e) });
    return { status: 500, type: 'text/plain', body: 'internal error\n' };
  }
}

function answer(path: string, method: string, config: HealthConfig, state: HealthState): { status: number; type: string; body: string } {
  // HEAD is answered as GET, without the body (Node leaves it out), as Go's net/http does.
  const read = method === 'GET' || method === 'HEAD';
  if (config.metricsEnabled && path === METRICS_PATH && read) return { status: 200, type: METRICS_CONTENT_TYPE, body: state.metrics.render() };
  // A probe answers any method, as the Go helper's handlers do: HAProxy's `option httpchk /ready` sends OPTIONS.
  const probe = path === config.livenessPath ? 'live' : path === config.readinessPath ? 'ready' : undefined;
  if (probe === undefined) return { status: 404, type: 'text/plain', body: 'not found\n' };
  const report = state.report(new Date(), probe);
  return { status: report[probe] ? 200 : 503, type: 'application/json', body: JSON.stringify(report) + '\n' };
}

/**
 * The path of an origin-form (`/ready?x`) or absolute-form (`http://host/ready`) request
 * target, percent-decoded as Go's ServeMux matches it (a client sends `/sant%C3%A9` for a
 * configured `/santé`); '' when it does not decode, which no probe path is.
 */
function requestPath(target: string): string {
  try {
    return decodeURIComponent(target.startsWith('/') ? target.split('?')[0]! : new URL(target).pathname);
  } catch {
    return '';
  }
}

/**
 * How Node closes the connection of a request whose body is not read: it sends the answer, then
 * destroys the socket with the unread body in its receive buffer, so the kernel answers with a
 * reset, which can reach the client before it has read the answer (seen once: a probe got no
 * reply). As nginx's lingering_close does: end our side, stop reading, and destroy only after
 * LINGER_MS or when the client closes, so the answer is read first. The connection cap bounds
 * what lingers.
 */
function lingerOnClose(socket: Socket): void {
  socket.destroySoon = () => {
    socket.pause();
    socket.end();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    socket.once('close', () => clearTimeout(timer));
  };
}

const LINGER_MS = 1_000;

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A start-up error naming the key to change. */
function listenError(e: NodeJS.ErrnoException, config: HealthConfig, host: string): HelperError {
  const where = hostPort(host, config.port);
  // "host:port" or "[v6]:port" (a bare IPv6 address has no port to tell apart).
  const withPort = /^(?:\[[^\]]*\]|[^:]*):\d+$/.test(config.bindAddress);
  const message = withPort
    ? `health_checks.bind_address: ${JSON.stringify(config.bindAddress)} holds a port: write the address alone here and the port in bind_port`
    : e.code === 'EADDRINUSE'
      ? `health_checks.bind_port: cannot listen on ${where}: the port is already in use`
      : e.code === 'EACCES'
        ? `health_checks.bind_port: cannot listen on ${where}: permission denied (a port below 1024 needs privileges)`
        : e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN' || e.code === 'EINVAL'
          ? `health_checks.bind_address: cannot listen on ${JSON.stringify(config.bindAddress)}: not an address of this host (${e.code}${e.code === 'EINVAL' ? '; a link-local IPv6 address needs its zone, as fe80::1%eth0' : ''})`
          : `health_checks: cannot listen on ${where}: ${e.message}`;
  return new HelperError('health', message, { cause: e });
}
