/**
 * HCL text to tokens, for the parser in hcl.ts. Comments are tokens too, marked by whether
 * they stand on a line of their own, so that the parser can keep them with their item.
 */

/** What cannot be read, and on which line: convert-config names the line in its error. */
export class HclError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

export type Token =
  | { t: 'ident'; v: string; line: number }
  | { t: 'string'; v: string; line: number }
  | { t: 'number'; v: string; line: number }
  | { t: 'punct'; v: '=' | '{' | '}' | '[' | ']' | ','; line: number }
  | { t: 'newline'; line: number }
  | { t: 'comment'; v: string; line: number; ownLine: boolean }
  | { t: 'eof'; line: number };

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineHasCode = false;
  const push = (tok: Token): void => {
    tokens.push(tok);
    if (tok.t !== 'newline' && tok.t !== 'comment') lineHasCode = true;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      push({ t: 'newline', line });
      line++;
      lineHasCode = false;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r' || c === '\ufeff') {
      i++;
    } else if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      const end = text.indexOf('\n', i);
      const body = text.slice(i + (c === '#' ? 1 : 2), end === -1 ? text.length : end);
      tokens.push({ t: 'comment', v: body.replace(/^ /, '').trimEnd(), line, ownLine: !lineHasCode });
      i = end === -1 ? text.length : end;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end === -1) throw new HclError(line, 'unterminated /* comment');
      const body = text.slice(i + 2, end);
      const ownLine = !lineHasCode;
      body.split('\n').forEach((l, k) => {
        const clean = l.replace(/^\s*\*? ?/, '').trimEnd();
        if (clean !== '' || k > 0) tokens.push({ t: 'comment', v: clean, line: line + k, ownLine });
      });
      line += body.split('\n').length - 1;
      i = end + 2;
    } else if (c === '"') {
      const start = line;
      let v = '';
      i++;
      for (;;) {
        if (i >= text.length || text[i] === '\n') throw new HclError(start, 'unterminated string');
        const ch = text[i]!;
        if (ch === '"') break;
        if (ch === '\\') {
          const [s, len] = unescape(text, i, line);
          v += s;
          i += len;
          continue;
        }
        v += ch;
        i++;
      }
      i++;
      push({ t: 'string', v, line: start });
    } else if (c === '<' && text[i + 1] === '<') {
      throw new HclError(line, 'heredoc strings (<<EOF) are not supported by convert-config; use a quoted string');
    } else if (/[-0-9]/.test(c)) {
      const m = /^-?(0[xX][0-9a-fA-F]+|[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)/.exec(text.slice(i));
      if (!m) throw new HclError(line, `unexpected character ${JSON.stringify(c)}`);
      push({ t: 'number', v: m[0], line });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_.-]*/.exec(text.slice(i))!;
      push({ t: 'ident', v: m[0], line });
      i += m[0].length;
    } else if ('={}[],'.includes(c)) {
      push({ t: 'punct', v: c as '=', line });
      i++;
    } else {
      throw new HclError(line, `unexpected character ${JSON.stringify(c)}`);
    }
  }
  tokens.push({ t: 'eof', line });
  return tokens;
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '/': '/' };

/** One backslash escape at `i`: the text it stands for and how many characters it takes. */
function unescape(text: string, i: number, line: number): [string, number] {
  const e = text[i + 1];
  if (e !== undefined && e in ESCAPES) return [ESCAPES[e]!, 2];
  const hex = (n: number): [string, number] => {
    const digits = text.slice(i + 2, i + 2 + n);
    if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(digits)) throw new HclError(line, `bad \\${e} escape in string`);
    return [String.fromCodePoint(parseInt(digits, 16)), 2 + n];
  };
  if (e === 'x') return hex(2);
  if (e === 'u') return hex(4);
  if (e === 'U') return hex(8);
  throw new HclError(line, `unknown escape \\${e ?? ''} in string (write a backslash as \\\\)`);
}
