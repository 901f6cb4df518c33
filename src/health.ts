import type { Server } from 'node:http';
import { METRICS_PATH, type HealthConfig } from './config/config.js';
import { HelperError } from './errors.js';
import type { Logger } from './log.js';
import { Metrics, METRICS_CONTENT_TYPE } from './metrics.js';

/**
 * What the helper has achieved: the one place the sidecar reports events to, read by the
 * probes and by `/metrics`. The probe body keeps the Go helper's `file_write_statuses` shape;
 * beyond it, readiness requires a written, unexpired SVID, and liveness fails while writes fail.
 */
type WriteStatus = 'unwritten' | 'written' | 'failed';

export interface SvidSummary {
  spiffeId: string;
  serial: string;
  notAfter: Date;
}

export class HealthState {
  private x509Status: WriteStatus | undefined;
  private svid: SvidSummary | undefined;
  private readonly jwt = new Map<string, WriteStatus>();
  private lastError: string | undefined;
  readonly metrics = new Metrics();

  constructor(options: { x509: boolean; jwtFiles: readonly string[] }) {
    if (options.x509) this.x509Status = 'unwritten';
    for (const f of options.jwtFiles) this.jwt.set(f, 'unwritten');
  }

  x509Written(svid: SvidSummary): void {
    this.x509Status = 'written';
    this.svid = svid;
    this.metrics.x509Written(svid.notAfter);
  }

  x509Failed(error: string): void {
    this.x509Status = 'failed';
    this.failed(error);
  }

  /** `changed` false: the token on disk was already this one. */
  jwtWritten(file: string, expiry: Date | undefined, changed: boolean): void {
    this.jwt.set(file, 'written');
    if (expiry) this.metrics.jwtSvidWritten(file, expiry, changed);
  }

  jwtFailed(file: string, error: string): void {
    this.jwt.set(file, 'failed');
    this.failed(error);
  }

  jwtBundleWritten(changed: boolean): void {
    if (changed) this.metrics.updated();
  }

  jwtBundleFailed(error: string): void {
    this.failed(error);
  }

  reconnected(): void {
    this.metrics.reconnected();
  }

  childRestarted(): void {
    this.metrics.childRestarted();
  }

  private failed(error: string): void {
    this.lastError = error;
    this.metrics.writeFailed();
  }

  live(): boolean {
    return this.x509Status !== 'failed' && ![...this.jwt.values()].includes('failed');
  }

  ready(now: Date = new Date()): boolean {
    const x509Ok = this.x509Status === undefined || (this.svid !== undefined && this.svid.notAfter.getTime() > now.getTime());
    return x509Ok && [...this.jwt.values()].every((s) => s === 'written');
  }

  report(now: Date = new Date()): object {
    return {
      live: this.live(),
      ready: this.ready(now),
      file_write_statuses: { x509_write_status: this.x509Status, jwt_write_status: Object.fromEntries(this.jwt) },
      x509_svid: this.svid && {
        spiffe_id: this.svid.spiffeId,
        serial: this.svid.serial,
        not_after: this.svid.notAfter.toISOString(),
        expired: this.svid.notAfter.getTime() <= now.getTime(),
      },
      last_error: this.lastError,
    };
  }
}

/** Serves liveness and readiness (and metrics); a port already in use is a start-up error. */
export async function startHealthServer(config: HealthConfig, state: HealthState, log: Logger): Promise<Server> {
  // Not an ESM import: on Node 22+ importing node:http as ESM evaluates every export, which
  // loads fetch (undici) and zlib, ~50 ms of start-up for every run, health checks or not.
  const { createServer } = process.getBuiltinModule('node:http');
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (config.metricsEnabled && path === METRICS_PATH && req.method === 'GET') {
      res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE }).end(state.metrics.render());
      return;
    }
    const check = path === config.livenessPath ? state.live() : path === config.readinessPath ? state.ready() : undefined;
    if (check === undefined || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(check ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(state.report()) + '\n');
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? 'the port is already in use' : e.message;
      reject(new HelperError('health', `health_checks: cannot listen on ${config.bindAddress}:${config.port}: ${why}`, { cause: e }));
    });
    server.listen(config.port, config.bindAddress, resolve);
  });
  const addr = server.address();
  log.info('health listener started', { address: typeof addr === 'object' && addr ? `${addr.address}:${addr.port}` : String(addr), liveness: config.livenessPath, readiness: config.readinessPath, metrics: config.metricsEnabled ? METRICS_PATH : undefined });
  return server;
}
