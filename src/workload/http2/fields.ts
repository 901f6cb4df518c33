import { quote } from '../../quote.js';
import type { HeaderField } from './hpack.js';

/** Header fields by name; a regular field received more than once is joined with ", " (RFC 9110 5.3). */
export type Headers = Record<string, string>;

/**
 * RFC 9110 5.6.2 token characters, lowercase only (RFC 9113 8.2.1: an uppercase name is
 * malformed in HTTP/2, as are names holding controls, spaces, non-ASCII or a colon).
 */
const FIELD_NAME = /^[a-z0-9!#$%&'*+\-.^_`|~]+$/;
/**
 * RFC 9113 8.2.1: NUL, CR and LF anywhere make a value malformed. Leading or trailing spaces
 * are not checked: gRPC-Go sends a grpc-message ending in a space as it is, and such a status
 * must still reach the caller.
 */
const BAD_VALUE = /[\0\r\n]/;
/** RFC 9113 8.2.2 (TE is allowed with "trailers" only, as nghttp2 allows it in responses). */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/**
 * The fields of one response header block, or why the block is malformed (RFC 9113 8.1.1): a
 * pseudo-header other than `:status`, twice, after a regular field or in trailers, a `:status`
 * that is not 3 digits (8.3), a name or value HTTP/2 forbids (8.2.1), a connection-specific
 * field (8.2.2). Joining a repeated `:status` into "200, 200" would otherwise hand the caller a
 * status nobody sent.
 */
export function responseFields(fields: readonly HeaderField[], trailers: boolean): { headers: Headers } | { malformed: string } {
  // A Map, then own properties: the peer names the fields, and `constructor` or `__proto__`
  // must be fields like any other, not what a plain object inherits.
  const headers = new Map<string, string>();
  let regularSeen = false;
  for (const [name, value] of fields) {
    const pseudo = name.startsWith(':');
    const why =
      (pseudo ? pseudoProblem(name, value, trailers, regularSeen, headers) : regularProblem(name, value)) ?? (BAD_VALUE.test(value) ? `the value of ${quote(name)} holds NUL, CR or LF` : undefined);
    if (why) return { malformed: `malformed ${trailers ? 'trailers' : 'response headers'}: ${why}` };
    regularSeen ||= !pseudo;
    const before = headers.get(name);
    headers.set(name, before === undefined ? value : `${before}, ${value}`);
  }
  return { headers: Object.fromEntries(headers) };
}

function pseudoProblem(name: string, value: string, trailers: boolean, regularSeen: boolean, seen: ReadonlyMap<string, string>): string | undefined {
  if (trailers) return `pseudo-header ${quote(name)} in trailers`;
  if (name !== ':status') return `pseudo-header ${quote(name)} is not one of a response (only :status is)`;
  if (seen.has(name)) return `pseudo-header ${name} appears twice`;
  if (regularSeen) return `pseudo-header ${name} after a regular header field`;
  // RFC 9113 8.3.2; read as a number, "0xc8", "+200" or "200.0" would pass for 200.
  if (!/^\d{3}$/.test(value)) return `:status ${quote(value)} is not a 3-digit status code`;
  return undefined;
}

function regularProblem(name: string, value: string): string | undefined {
  if (!FIELD_NAME.test(name)) return `field name ${quote(name)} is not a lowercase token`;
  if (CONNECTION_SPECIFIC.has(name) || (name === 'te' && value !== 'trailers')) return `connection-specific field ${name}`;
  return undefined;
}
