import { status } from '@grpc/grpc-js';
import { describeError } from '../errors.js';
import type { JWTSVIDRequestMessage, ValidateJWTSVIDRequestMessage } from '../workload/proto.js';
import { noIdentity, RpcError } from './calls.js';
import type { Issuance } from './issuance.js';
import { verifyJwtSvid } from './jwt-issuer.js';

/** The unary JWT RPCs, answered with SPIRE's status codes and messages for bad requests. */
export async function fetchJwtSvid(issuance: Issuance, request: JWTSVIDRequestMessage): Promise<object> {
  if (request.audience.length === 0) throw new RpcError(status.INVALID_ARGUMENT, 'audience must be specified');
  const wanted = request.spiffe_id;
  const mine = issuance.identities;
  const identities = wanted ? mine.filter(({ id }) => id.toString() === wanted) : mine;
  if (identities.length === 0) {
    throw new RpcError(status.PERMISSION_DENIED, wanted ? `no identity issued for ${wanted}` : noIdentity.message);
  }
  return { svids: await issuance.signJwtSvids(identities, request.audience) };
}

export async function validateJwtSvid(issuance: Issuance, request: ValidateJWTSVIDRequestMessage): Promise<object> {
  if (request.audience === '') throw new RpcError(status.INVALID_ARGUMENT, 'audience must be specified');
  if (request.svid === '') throw new RpcError(status.INVALID_ARGUMENT, 'svid must be specified');
  try {
    const { spiffeId, claims } = verifyJwtSvid(request.svid, request.audience, (td) => issuance.jwtIssuerFor(td));
    return { spiffe_id: spiffeId.toString(), claims: toStruct(claims) };
  } catch (e) {
    throw new RpcError(status.INVALID_ARGUMENT, describeError(e));
  }
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
