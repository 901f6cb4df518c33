import type { JwtSvidOutput } from '../config/config.js';
import { HelperError } from '../errors.js';
import type { JwtBundleSet } from '../spiffe/jwtbundle.js';
import { parseAndValidateJwtSvid, type JwtSvid } from '../spiffe/jwtsvid.js';
import type { WorkloadClient } from '../workload/client.js';
import type { JWTSVIDMessage, JWTSVIDResponseMessage } from '../workload/proto.js';

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
  const request = { audience: [o.entry.audience, ...o.entry.extraAudiences], spiffe_id: '' };
  const response = await o.client.unary<JWTSVIDResponseMessage>('FetchJWTSVID', request, o.signal);
  const raw = pick(response.svids ?? [], o.hint);
  const svid = parseAndValidateJwtSvid(raw.svid, { audience: o.entry.audience, bundles: o.bundles, hint: raw.hint });
  if (raw.spiffe_id !== svid.id.toString()) {
    throw new HelperError('jwtsvid', `jwtsvid: the response says the token is for ${JSON.stringify(raw.spiffe_id)} but its "sub" claim is ${svid.id}`);
  }
  return svid;
}

function pick(svids: readonly JWTSVIDMessage[], hint: string): JWTSVIDMessage {
  if (svids.length === 0) throw new HelperError('jwtsvid', 'jwtsvid: the response holds no JWT-SVIDs');
  if (hint === '') return svids[0]!;
  // On duplicate hints the first wins, as for X.509-SVIDs.
  const svid = svids.find((s) => s.hint === hint);
  if (!svid) {
    const have = svids.map((s) => JSON.stringify(s.hint)).join(', ');
    throw new HelperError('jwtsvid', `jwtsvid: no JWT-SVID has hint ${JSON.stringify(hint)} (the agent sent hints: ${have})`, { reason: 'hint_not_sent' });
  }
  return svid;
}
