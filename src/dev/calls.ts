import { status, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream } from '@grpc/grpc-js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * The dev agent's side of every call: recorded, then refused as SPIRE would (no security
 * header) or as a test asked (a fault), or answered; streams stay open for later pushes.
 */
export type WorkloadRpc = 'FetchX509SVID' | 'FetchX509Bundles' | 'FetchJWTSVID' | 'FetchJWTBundles' | 'ValidateJWTSVID';
export type StreamRpc = 'FetchX509SVID' | 'FetchX509Bundles' | 'FetchJWTBundles';

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

export type Stream = ServerWritableStream<unknown, unknown>;

const SECURITY_HEADER = 'workload.spiffe.io';
const MAX_RECORDED_CALLS = 10_000;

export const noIdentity: Fault = { code: status.PERMISSION_DENIED, message: 'no identity issued' };

/** The gRPC status a unary answer ends with; it never leaves the dev agent. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export class Calls {
  readonly recorded: RecordedCall[] = [];
  private readonly faults = new Map<WorkloadRpc, Fault>();
  private readonly streams: Record<StreamRpc, Set<Stream>> = {
    FetchX509SVID: new Set(),
    FetchX509Bundles: new Set(),
    FetchJWTBundles: new Set(),
  };

  constructor(private readonly log: Logger) {}

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

  /** `state` is the complete current state; undefined means no identity is issued. */
  serveStream(rpc: StreamRpc, call: Stream, state: () => object | undefined): void {
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

  serveUnary(rpc: WorkloadRpc, call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>, answer: () => Promise<object>): void {
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

  broadcast(rpc: StreamRpc, message: object): void {
    for (const call of this.streams[rpc]) call.write(message);
  }

  endStreams(rpc: StreamRpc, fault: Fault): void {
    for (const call of this.streams[rpc]) fail(call, fault);
    this.streams[rpc].clear();
  }

  endAllStreams(fault: Fault): void {
    for (const rpc of Object.keys(this.streams) as StreamRpc[]) this.endStreams(rpc, fault);
  }

  /** Records the call, then refuses it as SPIRE would (no security header) or as a test asked. */
  private admit(rpc: WorkloadRpc, call: Stream | ServerUnaryCall<unknown, unknown>): Fault | undefined {
    const metadata = Object.fromEntries(Object.entries(call.metadata.getMap()).map(([k, v]) => [k, v.toString()]));
    if (this.recorded.length >= MAX_RECORDED_CALLS) this.recorded.shift();
    this.recorded.push({ method: rpc, metadata, request: call.request, at: Date.now() });
    if (metadata[SECURITY_HEADER] !== 'true') {
      this.log.warn('dev agent refused a call without the security header', { rpc, header: SECURITY_HEADER });
      return { code: status.INVALID_ARGUMENT, message: 'security header missing from request' };
    }
    return this.faults.get(rpc);
  }
}

function fail(call: Stream, fault: Fault): void {
  // grpc-js turns an 'error' event on a server stream into the call's final status.
  call.emit('error', { code: fault.code, details: fault.message });
}

function isStreamRpc(rpc: WorkloadRpc): rpc is StreamRpc {
  return rpc === 'FetchX509SVID' || rpc === 'FetchX509Bundles' || rpc === 'FetchJWTBundles';
}
