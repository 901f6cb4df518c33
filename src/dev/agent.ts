import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { rm } from 'node:fs/promises';
import { HelperError, describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { TrustDomain } from '../spiffe/id.js';
import type { JWTSVIDRequestMessage, ValidateJWTSVIDRequestMessage, X509SVIDResponseMessage } from '../workload/proto.js';
import type { KeyType } from './ca.js';
import { Calls, noIdentity, type Fault, type RecordedCall, type Stream, type StreamRpc, type WorkloadRpc } from './calls.js';
import { asDecoded, Issuance, type DevIdentity, type RawX509SVIDResponse, type Settings } from './issuance.js';
import type { JwtAlg } from './jwt-issuer.js';
import { fetchJwtSvid, validateJwtSvid } from './jwt-rpc.js';
import { workloadServiceDefinition } from './service.js';
import { checkSocketPath, prepareSocketPath } from './socket.js';
import { MAX_TIMER_MS } from '../timer.js';

/**
 * The development Workload API agent: a local CA behind the real Workload API on a Unix
 * socket, so the helper runs without SPIRE and tests run in milliseconds. It behaves like a
 * SPIRE agent where a client can tell the difference (security header, status codes, full
 * state on every streamed message, rotation at half the SVID lifetime), and it has hooks to
 * produce what a real agent cannot (faults, malformed messages) on demand.
 */
export type { DevIdentity, Fault, RawX509SVIDResponse, RecordedCall, StreamRpc, WorkloadRpc };

export interface DevAgentOptions {
  socketPath: string;
  trustDomain?: string;
  identities?: DevIdentity[];
  svidTtlSeconds?: number;
  keyType?: KeyType;
  intermediate?: boolean;
  federatedTrustDomains?: string[];
  jwtTtlSeconds?: number;
  jwtAlg?: JwtAlg;
  log?: Logger;
}

export interface DevAgent {
  /** `unix:///abs/path`: what a client puts in its agent address. */
  readonly address: string;
  readonly socketPath: string;
  /** Every call received, refused ones included (the oldest are dropped past 10,000). */
  readonly calls: RecordedCall[];
  /** Issues new SVIDs now and pushes them (and changed bundles) on every open stream. */
  rotate(): Promise<void>;
  /** Ends open streams with UNAVAILABLE, stops the server and removes the socket. Idempotent. */
  close(): Promise<void>;
  openStreams(rpc?: StreamRpc): number;
  /** Answers `rpc` with this error until cleared; open streams of `rpc` end with it at once. */
  setFault(rpc: WorkloadRpc, fault: Fault | null): void;
  /** Sends `raw` as is on every open FetchX509SVID stream; it becomes the current state. */
  pushX509(raw: RawX509SVIDResponse): void;
  /** Takes effect at the next rotation. An empty list makes the agent deny X.509 and JWT-SVIDs. */
  setIdentities(identities: DevIdentity[]): void;
  /** Takes effect at the next rotation. */
  setFederatedTrustDomains(trustDomains: string[]): void;
  /** The last X509SVIDResponse sent, as a client decodes it; undefined while no identity is issued. */
  current(): X509SVIDResponseMessage | undefined;
}

/** X.509 validity has one-second resolution and rotation happens at half the TTL. */
const MIN_TTL_SECONDS = 2;

const shuttingDown: Fault = { code: status.UNAVAILABLE, message: 'dev agent is shutting down' };

export async function startDevAgent(options: DevAgentOptions): Promise<DevAgent> {
  const trustDomain = TrustDomain.parse(options.trustDomain ?? 'example.org');
  const settings: Settings = {
    trustDomain,
    svidTtlSeconds: ttl(options.svidTtlSeconds ?? 60, 'SVID'),
    jwtTtlSeconds: ttl(options.jwtTtlSeconds ?? 300, 'JWT-SVID'),
    keyType: options.keyType,
    intermediate: options.intermediate ?? false,
    jwtAlg: options.jwtAlg,
    log: options.log ?? silentLogger,
  };
  const agent = new Agent(checkSocketPath(options.socketPath), settings);
  agent.setIdentities(options.identities ?? [{ spiffeId: `${trustDomain.id}/workload` }]);
  agent.setFederatedTrustDomains(options.federatedTrustDomains ?? []);
  await agent.start();
  return agent;
}

/** Lifecycle and rotation; what is issued lives in Issuance, how calls are served in Calls. */
class Agent implements DevAgent {
  readonly address: string;
  readonly calls: RecordedCall[];
  private readonly server = new Server();
  private readonly rpc: Calls;
  private readonly issuance: Issuance;
  /** The state new FetchX509SVID streams get; undefined while no identity is issued. */
  private x509: RawX509SVIDResponse | undefined;
  private jwtBundlesSent = '';
  private timer: NodeJS.Timeout | undefined;
  /** Rotations run one at a time, whether the timer or a test asked for them. */
  private rotations: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;

  constructor(
    readonly socketPath: string,
    private readonly settings: Settings,
  ) {
    this.address = `unix://${socketPath}`;
    this.rpc = new Calls(settings.log);
    this.calls = this.rpc.recorded;
    this.issuance = new Issuance(settings);
  }

  async start(): Promise<void> {
    await prepareSocketPath(this.socketPath);
    // Issue before listening: the first caller gets SVIDs, not a "no identity" refusal.
    await this.rotate();
    this.server.addService(workloadServiceDefinition(), this.handlers());
    await new Promise<void>((done, fail) =>
      this.server.bindAsync(`unix:${this.socketPath}`, ServerCredentials.createInsecure(), (err) =>
        err ? fail(new HelperError('address', `dev agent cannot listen on ${this.socketPath}: ${err.message}`)) : done(),
      ),
    );
    this.schedule();
  }

  rotate(): Promise<void> {
    const run = this.rotations.then(() => this.issueAndPush());
    this.rotations = run.catch(() => undefined);
    return run;
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  openStreams(rpc?: StreamRpc): number {
    return this.rpc.openStreams(rpc);
  }

  setFault(rpc: WorkloadRpc, fault: Fault | null): void {
    this.rpc.setFault(rpc, fault);
  }

  pushX509(raw: RawX509SVIDResponse): void {
    this.x509 = raw;
    this.rpc.broadcast('FetchX509SVID', raw);
  }

  setIdentities(identities: DevIdentity[]): void {
    this.issuance.setIdentities(identities);
  }

  setFederatedTrustDomains(trustDomains: string[]): void {
    this.issuance.setFederatedTrustDomains(trustDomains);
  }

  current(): X509SVIDResponseMessage | undefined {
    return this.x509 && asDecoded(this.x509);
  }

  private async issueAndPush(): Promise<void> {
    if (this.closing) return;
    const issued = await this.issuance.issue();
    if (this.closing) return;
    this.issuance.activate(issued.membership);
    this.x509 = issued.x509;
    if (this.x509) this.rpc.broadcast('FetchX509SVID', this.x509);
    else this.rpc.endStreams('FetchX509SVID', noIdentity);
    this.rpc.broadcast('FetchX509Bundles', this.issuance.x509Bundles());
    const jwtBundles = this.issuance.jwtBundles();
    const sent = JSON.stringify(jwtBundles);
    // JWT keys do not rotate: only a change of federation is news to FetchJWTBundles streams.
    if (sent !== this.jwtBundlesSent) this.rpc.broadcast('FetchJWTBundles', jwtBundles);
    this.jwtBundlesSent = sent;
  }

  /** Automatic rotation keeps its own cadence; rotate() from a test neither delays nor skips it. */
  private schedule(): void {
    // A longer delay would fire at once (see timer.ts); rotating early is harmless.
    const delay = Math.min((this.settings.svidTtlSeconds * 1000) / 2, MAX_TIMER_MS);
    this.timer = setTimeout(() => {
      this.rotate()
        .catch((e) => this.settings.log.error('dev agent rotation failed', { error: describeError(e) }))
        .finally(() => {
          if (!this.closing) this.schedule();
        });
    }, delay);
    this.timer.unref();
  }

  private handlers(): UntypedServiceImplementation {
    const rpc = this.rpc;
    return {
      FetchX509SVID: (call: Stream) => rpc.serveStream('FetchX509SVID', call, () => this.x509),
      FetchX509Bundles: (call: Stream) => rpc.serveStream('FetchX509Bundles', call, () => this.issuance.x509Bundles()),
      FetchJWTBundles: (call: Stream) => rpc.serveStream('FetchJWTBundles', call, () => this.issuance.jwtBundles()),
      FetchJWTSVID: (call: ServerUnaryCall<JWTSVIDRequestMessage, unknown>, callback: sendUnaryData<unknown>) =>
        rpc.serveUnary('FetchJWTSVID', call, callback, () => fetchJwtSvid(this.issuance, call.request)),
      ValidateJWTSVID: (call: ServerUnaryCall<ValidateJWTSVIDRequestMessage, unknown>, callback: sendUnaryData<unknown>) =>
        rpc.serveUnary('ValidateJWTSVID', call, callback, () => validateJwtSvid(this.issuance, call.request)),
    };
  }

  private async shutdown(): Promise<void> {
    await this.rotations;
    clearTimeout(this.timer);
    this.rpc.endAllStreams(shuttingDown);
    await new Promise<void>((done) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        done();
      }, 1000);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        done();
      });
    });
    await rm(this.socketPath, { force: true });
  }
}

function ttl(seconds: number, what: string): number {
  if (!Number.isFinite(seconds) || seconds < MIN_TTL_SECONDS) {
    throw new HelperError('usage', `dev agent ${what} TTL must be at least ${MIN_TTL_SECONDS}s (got ${seconds}s)`);
  }
  return seconds;
}
