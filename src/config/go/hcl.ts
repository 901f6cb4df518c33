import { HclError, tokenize, type Token } from './hcl-tokens.js';

/**
 * The subset of HCL (version 1, what the Go spiffe-helper reads) that its configs are written
 * in: `key = value` with strings, numbers and booleans; lists; objects (`{ a = 1, b = 2 }`,
 * items separated by commas or new lines); blocks (`health_checks { ... }`); `#`, `//` and
 * `/* *\/` comments. Every node keeps its line, so that errors and warnings can name it.
 * Comments on lines of their own are kept and attached to the item that follows them.
 */
export type HclValue =
  | { kind: 'string'; value: string; line: number }
  /** `raw` is the literal as written: `0644` is octal to HCL, `644` is decimal. */
  | { kind: 'number'; value: number; raw: string; line: number }
  | { kind: 'bool'; value: boolean; line: number }
  | { kind: 'list'; items: HclValue[]; line: number }
  | { kind: 'object'; items: HclItem[]; line: number };

export interface HclItem {
  key: string;
  value: HclValue;
  line: number;
  /** `key { ... }` rather than `key = { ... }`. */
  block: boolean;
  /** Comment lines just above the item, without their markers. */
  comments: string[];
  /** A comment after the value, on the same line. */
  trailingComment?: string;
}

export interface HclFile {
  items: HclItem[];
  /** Comments after the last item. */
  trailingComments: string[];
}

export { HclError } from './hcl-tokens.js';

class Parser {
  private pos = 0;
  private pendingComments: string[] = [];

  constructor(private readonly tokens: Token[]) {}

  file(): HclFile {
    const items = this.items('eof');
    return { items, trailingComments: this.takeComments() };
  }

  /** Items until `end` (eof, or the `}` of an object); separated by new lines or commas. */
  private items(end: 'eof' | '}'): HclItem[] {
    const items: HclItem[] = [];
    for (;;) {
      this.skipSeparators(true);
      const tok = this.peek();
      if (end === 'eof' ? tok.t === 'eof' : tok.t === 'punct' && tok.v === '}') return items;
      if (tok.t === 'eof') throw new HclError(tok.line, 'missing } at the end of the file');
      const item = this.item();
      items.push(item);
      const after = this.tokens[this.pos]!;
      if (after.t === 'comment' && !after.ownLine) {
        item.trailingComment = after.v;
        this.pos++;
      }
      const next = this.peekRaw();
      const closes = end === 'eof' ? next.t === 'eof' : next.t === 'punct' && next.v === '}';
      if (!(next.t === 'newline' || next.t === 'comment' || (next.t === 'punct' && next.v === ',') || closes)) {
        throw new HclError(next.line, `expected a new line or a comma after "${items[items.length - 1]!.key}", got ${describe(next)}`);
      }
    }
  }

  private item(): HclItem {
    const keyTok = this.next();
    if (keyTok.t !== 'ident' && keyTok.t !== 'string') throw new HclError(keyTok.line, `expected a key, got ${describe(keyTok)}`);
    const comments = this.takeComments();
    const after = this.peek();
    if (after.t === 'punct' && after.v === '{') {
      return { key: keyTok.v, value: this.value(), line: keyTok.line, block: true, comments };
    }
    if (after.t === 'string' || after.t === 'ident') {
      throw new HclError(after.line, `labelled blocks ("${keyTok.v} ${after.v} { ... }") are not part of the spiffe-helper configuration`);
    }
    if (!(after.t === 'punct' && after.v === '=')) throw new HclError(after.line, `expected = after "${keyTok.v}", got ${describe(after)}`);
    this.next();
    const value = this.value();
    return { key: keyTok.v, value, line: keyTok.line, block: false, comments };
  }

  private value(): HclValue {
    this.skipSeparators(false);
    const tok = this.next();
    switch (tok.t) {
      case 'string':
        return { kind: 'string', value: tok.v, line: tok.line };
      case 'number':
        return { kind: 'number', value: numberValue(tok.v), raw: tok.v, line: tok.line };
      case 'ident':
        if (tok.v === 'true' || tok.v === 'false') return { kind: 'bool', value: tok.v === 'true', line: tok.line };
        throw new HclError(tok.line, `unexpected word ${tok.v}: strings must be quoted ("${tok.v}")`);
      case 'punct':
        if (tok.v === '[') return this.list(tok.line);
        if (tok.v === '{') {
          const items = this.items('}');
          this.next();
          return { kind: 'object', items, line: tok.line };
        }
        throw new HclError(tok.line, `expected a value, got ${describe(tok)}`);
      default:
        throw new HclError(tok.line, `expected a value, got ${describe(tok)}`);
    }
  }

  private list(line: number): HclValue {
    const items: HclValue[] = [];
    for (;;) {
      this.skipSeparators(true, false);
      const tok = this.peek();
      if (tok.t === 'punct' && tok.v === ']') {
        this.next();
        return { kind: 'list', items, line };
      }
      if (tok.t === 'eof') throw new HclError(line, 'unterminated list: missing ]');
      items.push(this.value());
      this.skipSeparators(true, false);
      const sep = this.peek();
      if (sep.t === 'punct' && sep.v === ',') this.next();
      else if (!(sep.t === 'punct' && sep.v === ']')) throw new HclError(sep.line, `expected , or ] in the list, got ${describe(sep)}`);
    }
  }

  /** Skips new lines (and commas between items), collecting own-line comments. */
  private skipSeparators(newlines: boolean, commas = true): void {
    for (;;) {
      const tok = this.tokens[this.pos]!;
      if (tok.t === 'comment') {
        if (tok.ownLine) this.pendingComments.push(tok.v);
        this.pos++;
      } else if (newlines && tok.t === 'newline') {
        this.pos++;
      } else if (commas && newlines && tok.t === 'punct' && tok.v === ',') {
        this.pos++;
      } else {
        return;
      }
    }
  }

  private takeComments(): string[] {
    const c = this.pendingComments;
    this.pendingComments = [];
    return c;
  }

  /** The next meaningful token (comments skipped, new lines kept). */
  private peekRaw(): Token {
    let p = this.pos;
    while (this.tokens[p]!.t === 'comment' && !(this.tokens[p] as { ownLine: boolean }).ownLine) p++;
    return this.tokens[p]!;
  }

  private peek(): Token {
    let p = this.pos;
    while (this.tokens[p]!.t === 'comment') p++;
    return this.tokens[p]!;
  }

  private next(): Token {
    while (this.tokens[this.pos]!.t === 'comment') {
      const tok = this.tokens[this.pos] as { v: string; ownLine: boolean };
      if (tok.ownLine) this.pendingComments.push(tok.v);
      this.pos++;
    }
    return this.tokens[this.pos++]!;
  }
}

/** HCL 1 reads integers like Go's strconv.ParseInt(s, 0, 64): a leading 0 means octal. */
function numberValue(raw: string): number {
  const neg = raw.startsWith('-');
  const body = neg ? raw.slice(1) : raw;
  let v: number;
  if (/^0[xX]/.test(body)) v = parseInt(body.slice(2), 16);
  else if (/^0[0-7]+$/.test(body)) v = parseInt(body, 8);
  else v = Number(body);
  return neg ? -v : v;
}

function describe(tok: Token): string {
  switch (tok.t) {
    case 'eof':
      return 'the end of the file';
    case 'newline':
      return 'a new line';
    case 'string':
      return `the string ${JSON.stringify(tok.v)}`;
    case 'comment':
      return 'a comment';
    default:
      return JSON.stringify(tok.v);
  }
}

export function parseHcl(text: string): HclFile {
  return new Parser(tokenize(text)).file();
}
