/** Longer than any header value SPIRE sets, shorter than any JWT: a quoted value never carries a token. */
const QUOTE_CHARS = 32;

/**
 * A value from a peer (a token, a JWKS, a response header) as a refusal or a log line quotes it:
 * JSON, cut short, at most 4 entries of a list. The peer chooses it: whole, it could be a
 * megabyte or another token.
 */
export function quote(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > QUOTE_CHARS ? `${v.slice(0, QUOTE_CHARS)}…` : v);
  if (Array.isArray(v)) return `[${v.slice(0, 4).map(quote).join(',')}${v.length > 4 ? `,… ${v.length - 4} more` : ''}]`;
  return String(JSON.stringify(v)).slice(0, QUOTE_CHARS);
}

/** The message of an error that quoted `v` whole (JSON), with `v` quoted cut short instead. */
export function quotedIn(message: string, v: string): string {
  return message.replaceAll(JSON.stringify(v), quote(v));
}
