/**
 * The Workload API as the helper uses it: one function per RPC, each turning the agent's
 * messages into SPIFFE values at this edge (parsing is validation), so that no protobuf type
 * or RPC name leaves workload/. A message that does not validate is refused and reported by
 * the client, and the stream goes on with the last good state.
 */
import type { HelperError } from '../errors.js';
import type { BundleCache } from '../spiffe/bundle-cache.js';
import { parseJwtBundleSet, type JwtBundleSet } from '../spiffe/jwtbundle.js';
import type { RawJwtSvid } from '../spiffe/jwtsvid.js';
import { validateX509Context, type X509Context } from '../spiffe/x509context.js';
import type { WorkloadClient } from './client.js';
import type { X509SVIDResponseMessage } from './proto.js';

interface Watch<T> {
  signal: AbortSignal;
  /** Each valid update, one at a time: a complete state that replaces the one before. */
  onUpdate(update: T): Promise<void> | void;
  /** The stream is retried because of `error`. */
  onInterrupted?(error: HelperError): void;
}

/** FetchX509SVID. `cache`: reuse the bundles of the previous message whose bytes are unchanged (daemon mode). */
export function watchX509Context(client: WorkloadClient, o: Watch<X509Context> & { cache?: BundleCache }): Promise<void> {
  return client.watch({
    rpc: 'FetchX509SVID',
    signal: o.signal,
    // async: the client expects a rejected promise, not a synchronous throw.
    onMessage: async (msg) => o.onUpdate(parseX509Context(msg, new Date(), o.cache)),
  });
}

export function parseX509Context(msg: X509SVIDResponseMessage, now: Date = new Date(), cache?: BundleCache): X509Context {
  const svids = (msg.svids ?? []).map((s) => ({ spiffeId: s.spiffe_id, chainDer: s.x509_svid, keyDer: s.x509_svid_key, bundleDer: s.bundle, hint: s.hint }));
  return validateX509Context({ svids, federatedBundles: Object.entries(msg.federated_bundles ?? {}) }, now, cache);
}

/** FetchJWTBundles. */
export function watchJwtBundles(client: WorkloadClient, o: Watch<JwtBundleSet>): Promise<void> {
  return client.watch({
    rpc: 'FetchJWTBundles',
    signal: o.signal,
    onInterrupted: o.onInterrupted,
    onMessage: async (msg) => o.onUpdate(parseJwtBundleSet(msg.bundles ?? {})),
  });
}

/**
 * FetchJWTSVID: the tokens the agent issues for `audience`, in its order, not yet validated:
 * validation needs the JWT bundles, which come on their own stream, so whoever picks one
 * validates it (spiffe/jwtsvid.ts validateSentJwtSvid).
 */
export async function fetchJwtSvids(client: WorkloadClient, audience: readonly string[], signal: AbortSignal): Promise<RawJwtSvid[]> {
  const response = await client.unary('FetchJWTSVID', { audience: [...audience], spiffe_id: '' }, signal);
  return (response.svids ?? []).map((s) => ({ spiffeId: s.spiffe_id, token: s.svid, hint: s.hint }));
}
