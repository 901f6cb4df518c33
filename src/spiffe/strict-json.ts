/**
 * JSON as a JOSE header or JWT claims set must be read: one meaning for every reader. JSON.parse
 * alone decodes bytes that are not UTF-8 into U+FFFD, keeps the last of two members of the same
 * name, and lets a lone surrogate through: three ways for two parsers (ours and the workload's
 * consumer) to read different claims from one signed token. RFC 7515 4 and RFC 7519 4 allow a
 * parser to refuse duplicate names, and go-jose (go-spiffe) does.
 */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** With the u flag a string is read by code point: only an unpaired surrogate is one of category Cs. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Why `bytes` is not one unambiguous JSON text, as a short phrase; or the parsed value. */
export function parseStrictJson(bytes: Uint8Array): { value: unknown } | { problem: string } {
  let text: string;
  try {
    // ignoreBOM keeps a byte order mark in the text, where JSON.parse refuses it (RFC 8259 8.1).
    text = UTF8.decode(bytes);
  } catch {
    return { problem: 'is not UTF-8' };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: 'is not JSON' };
  }
  const problem = ambiguity(text);
  return problem ? { problem } : { value };
}

/**
 * The first duplicate member name or ill-formed string of a text JSON.parse accepted. Being
 * valid JSON, its tokens can be told apart by their first character alone.
 */
function ambiguity(text: string): string | undefined {
  // One entry per open object (its member names so far) or array (null).
  const open: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') {
      open.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      open.push(null);
    } else if (c === '}' || c === ']') {
      open.pop();
    } else if (c === ',') {
      expectKey = open.at(-1) != null;
    } else if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const s = JSON.parse(text.slice(i, end + 1)) as string;
      if (LONE_SURROGATE.test(s)) return 'has a string with a lone UTF-16 surrogate';
      if (expectKey) {
        const names = open.at(-1)!;
        if (names.has(s)) return `has the member ${JSON.stringify(s.slice(0, 40))} twice`;
        names.add(s);
        expectKey = false;
      }
      i = end;
    }
  }
  return undefined;
}
