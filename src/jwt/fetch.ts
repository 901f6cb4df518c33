import type { JwtSvidOutput } from '../config/config.js';
import { selectByHint } from '../spiffe/hint.js';
import type { JwtBundleSet } from '../spiffe/jwtbundle.js';
import { validateSentJwtSvid, type JwtSvid } from '../spiffe/jwtsvid.js';
import { fetchJwtSvids } from '../workload/api.js';
import type { WorkloadClient } from '../workload/client.js';

export interface FetchJwtSvidOptions {
  client: WorkloadClient;
  entry: JwtSvidOutput;
  /** The config's `hint`: '' means the first SVID, the workload's default identity. */
  hint: string;
  bundles: JwtBundleSet;
  signal: AbortSignal;
}

/**
 * One JWT-SVID for one `jwt_svids` entry: requested for the audience and its extra
 * audiences, picked by hint, validated against the bundles (for the primary audience, as
 * the Go helper does). Retryable Workload API errors are retried by the client.
 */
export async function fetchJwtSvid(o: FetchJwtSvidOptions): Promise<JwtSvid> {
  const sent = await fetchJwtSvids(o.client, [o.entry.audience, ...o.entry.extraAudiences], o.signal);
  return validateSentJwtSvid(selectByHint(sent, o.hint, 'jwtsvid'), { audience: o.entry.audience, bundles: o.bundles });
}
