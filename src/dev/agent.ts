import {
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { lstat, mkdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, resolve } from 'node:path';
import { HelperError, describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { SpiffeId, TrustDomain } from '../spiffe/id.js';
import {
  workloadServiceDefinition,
  type JWTSVIDRequestMessage,
  type ValidateJWTSVIDRequestMessage,
  type X509SVIDMessage,
  type X509SVIDResponseMessage,
} from '../workload/proto.js';
import { DevCa, type KeyType } from './ca.js';
import { verifyJwtSvid, type JwtAlg } from './jwt-issuer.js';

/**
 * The development Workload API agent: a local CA behind the real Workload API on a Unix
 * socket, so the helper runs without SPIRE and tests run in milliseconds. It behaves like a
 * SPIRE agent where a client can tell the difference (security header, status codes, full
 * state on every streamed message, rotation at half the SVID lifetime), and it has hooks to
 * produce what a real agent cannot (faults, malformed messages) on demand.
 */
export type WorkloadRpc = 'FetchX509SVID' | 'FetchX509Bundles' | 'FetchJWTSVID' | 'FetchJWTBundles' | 'ValidateJWTSVID';
export type StreamRpc = 'FetchX509SVID' | 'FetchX509Bundles' | 'FetchJWTBundles';

export interface DevIdentity {
  spiffeId: string;
  hint?: string;
}

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

export interface RecordedCall {
  method: WorkloadRpc;
  metadata: Record<string, string>;
  request: unknown;
  /** When the call arrived (Date.now()): lets tests measure a client's retry rate. */
  at: number;
}

export interface Fault {
  /** A gRPC status code (`status` from @grpc/grpc-js). */
  code: number;
  message: string;
}

/** What pushX509 may send: anything the wire format can carry, valid or not. */
export interface RawX509SVIDResponse {
  svids?: Partial<X509SVIDMessage>[];
  crl?: Buffer[];
  federated_bundles?: Record<string, Buffer>;
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

const SECURITY_HEADER = 'workload.spiffe.io';
const MAX_RECORDED_CALLS = 10_000;
/** X.509 validity has one-second resolution and rotation happens at half the TTL. */
const MIN_TTL_SECONDS = 2;
/** setTimeout fires at once for longer delays; rotating early is harmless. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const SOCKET_PATH_MAX_BYTES = 107;

const noIdentity: Fault = { code: status.PERMISSION_DENIED, message: 'no identity issued' };
const shuttingDown: Fault = { code: status.UNAVAILABLE, message: 'dev agent is shutting down' };

interface Identity {
  id: SpiffeId;
  hint: string;
}

interface Membership {
  identities: Identity[];
  federated: TrustDomain[];
}

type Stream = ServerWritableStream<unknown, unknown>;

/** The gRPC status a unary answer ends with; it never leaves this module. */
class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

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

interface Settings {
  trustDomain: TrustDomain;
  svidTtlSeconds: number;
  jwtTtlSeconds: number;
  keyType: KeyType | undefined;
  intermediate: boolean;
  jwtAlg: JwtAlg | undefined;
  log: Logger;
}

class Agent implements DevAgent {
  readonly address: string;
  readonly calls: RecordedCall[] = [];
  private readonly server = new Server();
  private readonly streams: Record<StreamRpc, Set<Stream>> = {
    FetchX509SVID: new Set(),
    FetchX509Bundles: new Set(),
    FetchJWTBundles: new Set(),
  };
  private readonly faults = new Map<WorkloadRpc, Fault>();
  private readonly cas = new Map<string, DevCa>();
  /** What setIdentities/setFederatedTrustDomains asked for; rotation makes it `active`. */
  private wanted: Membership = { identities: [], federated: [] };
  private active: Membership = { identities: [], federated: [] };
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
    const rpcs = rpc ? [rpc] : (Object.keys(this.streams) as StreamRpc[]);
    return rpcs.reduce((n, r) => n + this.streams[r].size, 0);
  }

  setFault(rpc: WorkloadRpc, fault: Fault | null): void {
    if (!fault) {
      this.faults.delete(rpc);
      return;
    }
    this.faults.set(rpc, fault);
    if (isStreamRpc(rpc)) this.endStreams(rpc, fault);
  }

  pushX509(raw: RawX509SVIDResponse): void {
    this.x509 = raw;
    this.broadcast('FetchX509SVID', raw);
  }

  setIdentities(identities: DevIdentity[]): void {
    this.wanted = { ...this.wanted, identities: identities.map((identity) => this.parseIdentity(identity)) };
  }

  setFederatedTrustDomains(trustDomains: string[]): void {
    const federated = trustDomains.map((name) => {
      const td = TrustDomain.parse(name);
      if (td.name === this.settings.trustDomain.name) {
        throw new HelperError('usage', `"${td.name}" is the agent's own trust domain: it cannot also be federated`);
      }
      return td;
    });
    this.wanted = { ...this.wanted, federated };
  }

  current(): X509SVIDResponseMessage | undefined {
    return this.x509 && asDecoded(this.x509);
  }

  private parseIdentity(identity: DevIdentity): Identity {
    const id = SpiffeId.parse(identity.spiffeId);
    if (id.trustDomain.name !== this.settings.trustDomain.name || !id.hasPath) {
      throw new HelperError(
        'usage',
        `dev agent identity ${id} must be a workload ID in its trust domain "${this.settings.trustDomain.name}" (spiffe://${this.settings.trustDomain.name}/<path>)`,
      );
    }
    return { id, hint: identity.hint ?? '' };
  }

  private async issueAndPush(): Promise<void> {
    if (this.closing) return;
    const next = this.wanted;
    await Promise.all([this.settings.trustDomain, ...next.federated].map((td) => this.caFor(td)));
    const x509 = next.identities.length === 0 ? undefined : await this.issueX509(next);
    if (this.closing) return;
    this.active = next;
    this.x509 = x509;
    if (x509) this.broadcast('FetchX509SVID', x509);
    else this.endStreams('FetchX509SVID', noIdentity);
    this.broadcast('FetchX509Bundles', this.x509Bundles());
    const jwtBundles = this.jwtBundles();
    const sent = JSON.stringify(jwtBundles);
    // JWT keys do not rotate: only a change of federation is news to FetchJWTBundles streams.
    if (sent !== this.jwtBundlesSent) this.broadcast('FetchJWTBundles', jwtBundles);
    this.jwtBundlesSent = sent;
  }

  private async issueX509(next: Membership): Promise<RawX509SVIDResponse> {
    const ca = await this.caFor(this.settings.trustDomain);
    const svids = await Promise.all(
      next.identities.map(async ({ id, hint }) => {
        const svid = await ca.issueX509Svid({ spiffeId: id, ttlSeconds: this.settings.svidTtlSeconds });
        this.settings.log.info('dev agent issued X.509-SVID', {
          spiffe_id: id.toString(),
          serial: svid.serial,
          not_after: svid.notAfter.toISOString(),
        });
        return { spiffe_id: id.toString(), x509_svid: svid.chainDer, x509_svid_key: svid.keyDer, bundle: svid.bundleDer, hint };
      }),
    );
    return { svids, crl: [], federated_bundles: this.bundleMap(next.federated, (ca) => ca.bundleDer) };
  }

  private x509Bundles(): object {
    return { crl: [], bundles: this.bundleMap(this.trustedDomains(), (ca) => ca.bundleDer) };
  }

  private jwtBundles(): object {
    return { bundles: this.bundleMap(this.trustedDomains(), (ca) => Buffer.from(JSON.stringify(ca.jwks()))) };
  }

  private trustedDomains(): TrustDomain[] {
    return [this.settings.trustDomain, ...this.active.federated];
  }

  private bundleMap(domains: TrustDomain[], bundle: (ca: DevCa) => Buffer): Record<string, Buffer> {
    return Object.fromEntries(domains.map((td) => [td.id, bundle(this.cas.get(td.name)!)]));
  }

  /** CAs outlive their place in the federation so that a re-added domain keeps its roots. */
  private async caFor(trustDomain: TrustDomain): Promise<DevCa> {
    let ca = this.cas.get(trustDomain.name);
    if (!ca) {
      const { keyType, intermediate, jwtAlg } = this.settings;
      ca = await DevCa.create({ trustDomain, keyType, intermediate, jwtAlg });
      this.cas.set(trustDomain.name, ca);
    }
    return ca;
  }

  /** Automatic rotation keeps its own cadence; rotate() from a test neither delays nor skips it. */
  private schedule(): void {
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
    return {
      FetchX509SVID: (call: Stream) => this.serveStream('FetchX509SVID', call, () => this.x509),
      FetchX509Bundles: (call: Stream) => this.serveStream('FetchX509Bundles', call, () => this.x509Bundles()),
      FetchJWTBundles: (call: Stream) => this.serveStream('FetchJWTBundles', call, () => this.jwtBundles()),
      FetchJWTSVID: (call: ServerUnaryCall<JWTSVIDRequestMessage, unknown>, callback: sendUnaryData<unknown>) =>
        this.serveUnary('FetchJWTSVID', call, callback, () => this.fetchJwtSvid(call.request)),
      ValidateJWTSVID: (call: ServerUnaryCall<ValidateJWTSVIDRequestMessage, unknown>, callback: sendUnaryData<unknown>) =>
        this.serveUnary('ValidateJWTSVID', call, callback, () => this.validateJwtSvid(call.request)),
    };
  }

  /** Records the call, then refuses it as SPIRE would (no security header) or as a test asked. */
  private admit(rpc: WorkloadRpc, call: Stream | ServerUnaryCall<unknown, unknown>): Fault | undefined {
    const metadata = Object.fromEntries(Object.entries(call.metadata.getMap()).map(([k, v]) => [k, v.toString()]));
    if (this.calls.length >= MAX_RECORDED_CALLS) this.calls.shift();
    this.calls.push({ method: rpc, metadata, request: call.request, at: Date.now() });
    if (metadata[SECURITY_HEADER] !== 'true') {
      this.settings.log.warn('dev agent refused a call without the security header', { rpc, header: SECURITY_HEADER });
      return { code: status.INVALID_ARGUMENT, message: 'security header missing from request' };
    }
    return this.faults.get(rpc);
  }

  /** `state` is the complete current state; undefined means no identity is issued. */
  private serveStream(rpc: StreamRpc, call: Stream, state: () => object | undefined): void {
    const refusal = this.admit(rpc, call);
    const message = refusal ? undefined : state();
    if (!message) {
      fail(call, refusal ?? noIdentity);
      return;
    }
    const open = this.streams[rpc];
    open.add(call);
    call.on('cancelled', () => open.delete(call));
    call.write(message);
  }

  private serveUnary(
    rpc: WorkloadRpc,
    call: ServerUnaryCall<unknown, unknown>,
    callback: sendUnaryData<unknown>,
    answer: () => Promise<object>,
  ): void {
    const refusal = this.admit(rpc, call);
    if (refusal) {
      callback({ code: refusal.code, details: refusal.message });
      return;
    }
    answer().then(
      (response) => callback(null, response),
      (e: unknown) => callback(e instanceof RpcError ? { code: e.code, details: e.message } : { code: status.INTERNAL, details: describeError(e) }),
    );
  }

  private async fetchJwtSvid(request: JWTSVIDRequestMessage): Promise<object> {
    if (request.audience.length === 0) throw new RpcError(status.INVALID_ARGUMENT, 'audience must be specified');
    const wanted = request.spiffe_id;
    const mine = this.active.identities;
    const identities = wanted ? mine.filter(({ id }) => id.toString() === wanted) : mine;
    if (identities.length === 0) {
      throw new RpcError(status.PERMISSION_DENIED, wanted ? `no identity issued for ${wanted}` : noIdentity.message);
    }
    const ca = await this.caFor(this.settings.trustDomain);
    const svids = await Promise.all(
      identities.map(async ({ id, hint }) => ({
        spiffe_id: id.toString(),
        svid: await ca.signJwtSvid({ spiffeId: id, audience: request.audience, ttlSeconds: this.settings.jwtTtlSeconds }),
        hint,
      })),
    );
    return { svids };
  }

  private async validateJwtSvid(request: ValidateJWTSVIDRequestMessage): Promise<object> {
    if (request.audience === '') throw new RpcError(status.INVALID_ARGUMENT, 'audience must be specified');
    if (request.svid === '') throw new RpcError(status.INVALID_ARGUMENT, 'svid must be specified');
    const trusted = new Set(this.trustedDomains().map((td) => td.name));
    try {
      const { spiffeId, claims } = verifyJwtSvid(request.svid, request.audience, (td) =>
        trusted.has(td) ? this.cas.get(td)?.jwtIssuer : undefined,
      );
      return { spiffe_id: spiffeId.toString(), claims: toStruct(claims) };
    } catch (e) {
      throw new RpcError(status.INVALID_ARGUMENT, describeError(e));
    }
  }

  private broadcast(rpc: StreamRpc, message: object): void {
    for (const call of this.streams[rpc]) call.write(message);
  }

  private endStreams(rpc: StreamRpc, fault: Fault): void {
    for (const call of this.streams[rpc]) fail(call, fault);
    this.streams[rpc].clear();
  }

  private async shutdown(): Promise<void> {
    await this.rotations;
    clearTimeout(this.timer);
    for (const rpc of Object.keys(this.streams) as StreamRpc[]) this.endStreams(rpc, shuttingDown);
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

function fail(call: Stream, fault: Fault): void {
  // grpc-js turns an 'error' event on a server stream into the call's final status.
  call.emit('error', { code: fault.code, details: fault.message });
}

function isStreamRpc(rpc: WorkloadRpc): rpc is StreamRpc {
  return rpc === 'FetchX509SVID' || rpc === 'FetchX509Bundles' || rpc === 'FetchJWTBundles';
}

function ttl(seconds: number, what: string): number {
  if (!Number.isFinite(seconds) || seconds < MIN_TTL_SECONDS) {
    throw new HelperError('usage', `dev agent ${what} TTL must be at least ${MIN_TTL_SECONDS}s (got ${seconds}s)`);
  }
  return seconds;
}

function checkSocketPath(socketPath: string): string {
  const absolute = resolve(socketPath);
  if (Buffer.byteLength(absolute) > SOCKET_PATH_MAX_BYTES) {
    throw new HelperError(
      'address',
      `dev agent socket path ${absolute} is longer than ${SOCKET_PATH_MAX_BYTES} bytes, the Unix socket limit: choose a shorter --socket`,
    );
  }
  return absolute;
}

/**
 * Replaces a socket left behind by an agent that died, but never a live agent's socket nor
 * a file that is not a socket.
 */
async function prepareSocketPath(socketPath: string): Promise<void> {
  await mkdir(dirname(socketPath), { recursive: true });
  const existing = await lstat(socketPath).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw new HelperError('address', `dev agent cannot inspect ${socketPath}: ${e.message}`);
  });
  if (!existing) return;
  if (!existing.isSocket()) {
    throw new HelperError('address', `${socketPath} exists and is not a socket: refusing to replace it; choose another --socket`);
  }
  if (await isListening(socketPath)) {
    throw new HelperError('address', `another process is listening on ${socketPath}: stop it or choose another --socket`);
  }
  await rm(socketPath, { force: true });
}

function isListening(socketPath: string): Promise<boolean> {
  return new Promise((answer) => {
    const socket = connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      answer(true);
    });
    socket.once('error', () => answer(false));
  });
}

/** Fills in proto3 defaults, so tests see exactly what a client decodes. */
function asDecoded(raw: RawX509SVIDResponse): X509SVIDResponseMessage {
  const empty = Buffer.alloc(0);
  return {
    svids: (raw.svids ?? []).map((s) => ({ spiffe_id: '', x509_svid: empty, x509_svid_key: empty, bundle: empty, hint: '', ...s })),
    crl: raw.crl ?? [],
    federated_bundles: raw.federated_bundles ?? {},
  };
}

/** google.protobuf.Struct in proto-loader's object form. */
function toStruct(object: Record<string, unknown>): object {
  return { fields: Object.fromEntries(Object.entries(object).map(([k, v]) => [k, toValue(v)])) };
}

function toValue(value: unknown): object {
  if (value === null || value === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(toValue) } };
  return { structValue: toStruct(value as Record<string, unknown>) };
}
