/**
 * JSON as a JOSE header, JWT claims set or JWKS must be read: one meaning for every reader.
 * JSON.parse alone decodes bytes that are not UTF-8 into U+FFFD, keeps the last of two members
 * of the same name, and lets a lone surrogate through: ways for two parsers (ours and the
 * workload's consumer, or go-jose) to read different claims or keys from the same bytes.
 * RFC 7515 4 and RFC 7519 4 allow a parser to refuse duplicate names; go-jose refuses them.
 */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** With the u flag a string is read by code point: only an unpaired surrogate is one of category Cs. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Where in the document (member names and array indexes) and what. */
export interface Ambiguity {
  path: (string | number)[];
  problem: string;
}

/** `bytes` as text; undefined when they are not UTF-8 (never U+FFFD in their place). */
export function strictUtf8(bytes: Uint8Array): string | undefined {
  try {
    // ignoreBOM keeps a byte order mark in the text, where JSON.parse refuses it (RFC 8259 8.1).
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** The parsed value of `bytes`, or why they are not one unambiguous JSON text (a short phrase). */
export function parseStrictJson(bytes: Uint8Array): { value: unknown } | { problem: string } {
  const text = strictUtf8(bytes);
  if (text === undefined) return { problem: 'is not UTF-8' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: 'is not JSON' };
  }
  const first = ambiguities(text)[0];
  return first ? { problem: first.problem } : { value };
}

/**
 * The duplicate member names and ill-formed strings of a text JSON.parse accepted. Being valid
 * JSON, its tokens can be told apart by their first character alone.
 */
export function ambiguities(text: string): Ambiguity[] {
  // One frame per open object or array, and where in it we are (member name, index). An object's
  // names go to a Set from its second member on: one Set per object cost seconds for a deep document.
  const open: { object: boolean; at: string | number; members: number; names?: Set<string> }[] = [];
  const found: Ambiguity[] = [];
  const path = () => open.map((f) => f.at);
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const top = open.at(-1);
    if (c === '{') {
      open.push({ object: true, at: '', members: 0 });
      expectKey = true;
    } else if (c === '[') {
      open.push({ object: false, at: 0, members: 0 });
    } else if (c === '}' || c === ']') {
      open.pop();
    } else if (c === ',') {
      if (top!.object) expectKey = true;
      else top!.at = (top!.at as number) + 1;
    } else if (c === '"') {
      let end = i + 1;
      let escaped = false;
      for (; text[end] !== '"'; end++) {
        if (text[end] === '\\') {
          escaped = true;
          end++;
        }
      }
      // Unescaping costs more than the rest of the scan: only strings with escapes need it.
      const s = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end);
      if (expectKey) {
        if (top!.members++ === 1) top!.names = new Set([top!.at as string]);
        if (top!.names?.has(s)) found.push({ path: [...path().slice(0, -1), s], problem: `has the member ${JSON.stringify(s.slice(0, 40))} twice` });
        top!.names?.add(s);
        top!.at = s;
        expectKey = false;
      }
      if (LONE_SURROGATE.test(s)) found.push({ path: path(), problem: 'has a string with a lone UTF-16 surrogate' });
      i = end;
    }
  }
  return found;
}
