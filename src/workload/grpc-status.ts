/**
 * gRPC statuses: the codes, the error a call ends with, and how a response that is not a gRPC
 * answer (an HTTP status, a content type, an RST_STREAM code, a bad grpc-status) maps to one,
 * as the gRPC spec says.
 */
import type { Headers } from './http2/connection.js';
import { ErrorCode } from './http2/frame.js';

export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
const STATUS_NAMES = Object.keys(Status);

export function statusName(code: number): string {
  return STATUS_NAMES[code] ?? String(code);
}

/** How a call ended when it did not end OK. */
export class GrpcError extends Error {
  override readonly name = 'GrpcError';
  constructor(
    readonly code: number,
    readonly details: string,
    /** What was too large ("a message of … bytes, …"), when that ended the call. */
    readonly tooLarge?: string,
  ) {
    super(`${statusName(code)}: ${details}`);
  }
}

/** A response that is not gRPC, or a trailers-only error: refused at once. */
export function refusedResponse(h: Headers): GrpcError | undefined {
  if (h['grpc-status'] !== undefined) return undefined; // trailers-only: the status is in these headers
  const httpStatus = Number(h[':status']);
  if (httpStatus !== 200) return new GrpcError(codeForHttpStatus(httpStatus), `the agent answered HTTP status ${httpStatus}`);
  const type = h['content-type'] ?? '';
  if (!/^application\/grpc([+;]|$)/.test(type)) return new GrpcError(Status.UNKNOWN, `the agent answered with content-type ${JSON.stringify(type)}, not application/grpc`);
  return undefined;
}

/** Why a status without a message is not OK: the trailers had no grpc-status, or not a code. */
export function statusProblem(value: string | undefined): string {
  return value === undefined ? 'the trailers hold no grpc-status' : `grpc-status ${JSON.stringify(value)} is not a status code`;
}

export function parseStatus(value: string | undefined): number {
  const code = Number(value);
  return /^\d+$/.test(String(value)) && code <= 16 ? code : Status.UNKNOWN;
}

/** Characters of a grpc-message kept: it ends up in every retry's log line and in /health. */
const MAX_MESSAGE_CHARS = 1024;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * grpc-message is percent-encoded UTF-8. HPACK hands its bytes over as latin1: raw UTF-8 (a
 * peer that skipped the encoding) is read as UTF-8, as gRPC-Go shows it; bytes that are not
 * UTF-8 and a malformed escape are shown as received, not dropped. A long one is cut.
 */
export function statusMessage(raw: string): string {
  let text = raw;
  try {
    text = utf8.decode(Buffer.from(raw, 'latin1'));
  } catch {}
  try {
    text = decodeURIComponent(text);
  } catch {}
  return text.length <= MAX_MESSAGE_CHARS ? text : `${text.slice(0, MAX_MESSAGE_CHARS)}… (${text.length - MAX_MESSAGE_CHARS} more characters)`;
}

/** The gRPC spec's mapping of HTTP statuses of non-gRPC responses. */
function codeForHttpStatus(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return Status.INTERNAL;
    case 401:
      return Status.UNAUTHENTICATED;
    case 403:
      return Status.PERMISSION_DENIED;
    case 404:
      return Status.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return Status.UNAVAILABLE;
    default:
      return Status.UNKNOWN;
  }
}

/** The gRPC spec's mapping of HTTP/2 error codes in RST_STREAM. */
export function codeForRstStream(code: number): number {
  switch (code) {
    case ErrorCode.REFUSED_STREAM:
      return Status.UNAVAILABLE;
    case ErrorCode.CANCEL:
      return Status.CANCELLED;
    case ErrorCode.ENHANCE_YOUR_CALM:
      return Status.RESOURCE_EXHAUSTED;
    case ErrorCode.INADEQUATE_SECURITY:
      return Status.PERMISSION_DENIED;
    default:
      return Status.INTERNAL;
  }
}
