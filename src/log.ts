/**
 * One line per event on stderr, as text (default) or JSON. Fields are flat key/values.
 * Private keys and tokens are never passed to the logger; as a second line of defence, a PEM
 * private key or a JWT anywhere in the message or in a string field (quoted inside an error
 * message from a peer, say) is replaced by `[redacted]`, the rest of the text kept. A line
 * stays within 16 KiB: its longest values are cut, after redaction, saying how many bytes went.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';
export type Fields = Record<string, string | number | boolean | undefined | null>;

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
/**
 * A PEM private key block (any label, any case), through its END line or, cut short, to the
 * end of the text; the tail of one whose BEGIN line went into another field or line (base64
 * lines, escaped or not, then the END line); and a JWS or JWE compact serialization: a
 * base64url JSON header (`{` encodes as "ey" or "ew") long enough to hold an `alg`, then two
 * to four more segments. Host names and dotted words stay.
 */
const secretPatterns = [
  /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/gi,
  // Starts only where a run starts: a scan from inside a run would make a long line quadratic.
  /(?<![A-Za-z0-9+/=\s\\])(?:[A-Za-z0-9+/=\s]|\\[nr])*-----END [A-Z0-9 ]*PRIVATE KEY-----/gi,
];

/**
 * A JWS or JWE: after a word boundary or a percent-escape (`%3D` of a URL-encoded `token=`),
 * where \b sees none. Tried only where a run of [\w-] starts, once the run is seen to be
 * followed by two dotted segments, then at its hyphens (`keep`, left as it is): a token may
 * start after any hyphen, and scanning the rest of a run from each one would be quadratic
 * (100 kB of "ey-ey-…" took 14 s).
 */
const jwsPattern = /(?:(?<![\w-])(?=[\w-]+(?:\.[\w-]*){2})(?<keep>(?:[\w-]*?-)??)|(?<=%[0-9A-Fa-f]{2}))e[wy][\w-]{14,}(?:\.[\w-]*){2,4}/g;

/**
 * The private members of a JWK (EC and RSA private values, a symmetric key), their quotes
 * escaped any number of times (a JWKS quoted inside a JSON string): the value goes, the
 * public members stay. Starts only where a run of backslashes starts, so that a long run of
 * them is not scanned from each one.
 */
const privateJwkMember = /(?<!\\)(\\*"(?:d|p|q|dp|dq|qi|k)\\*"\s*:\s*\\*")[A-Za-z0-9_-]+/g;

/**
 * Key material without PEM armour, as an error may quote it: DER in base64 or base64url (one
 * run, or wrapped into lines as a PEM body or MIME is, the lines joined by newlines, escaped
 * newlines or spaces), in hex (bare, as Node prints a Buffer: pairs with spaces, or as openssl
 * prints it: pairs with colons over indented lines), or as a JSON byte array; and a PEM key
 * or a token itself in base64. Runs long enough to hold a key are decoded and, when they begin like one
 * (see isKeyDer), redacted for the whole length the DER header gives, the text after it kept.
 */
const encodedRuns: { pattern: RegExp; digitsFor(bytes: number): number; decode(digits: string): Buffer }[] = [
  {
    pattern: /[A-Za-z0-9+/_-]{40,}={0,2}(?:(?:\s|\\[nr])+[A-Za-z0-9+/_-]{4,}={0,2})*/g,
    digitsFor: (bytes) => Math.ceil(bytes / 3) * 4,
    decode: (digits) =>
      Buffer.from(
        digits.replace(/[-_]/g, (c) => (c === '-' ? '+' : '/')),
        'base64',
      ),
  },
  { pattern: /\b[0-9a-f]{2}(?::?(?:\s|\\[nr])*[0-9a-f]{2}){29,}\b/gi, digitsFor: (bytes) => bytes * 2, decode: (digits) => Buffer.from(digits, 'hex') },
  { pattern: /\[\s*\d{1,3}(?:\s*,\s*\d{1,3}){29,}/g, digitsFor: () => Infinity, decode: (digits) => Buffer.from(digits.slice(1).split(',').map(Number)) },
];

/** What separates the digits of a wrapped run: whitespace, escaped newlines, openssl's colons. */
const runSeparator = /\s|\\[nr]|:/y;

function redactRun(run: string, encoding: (typeof encodedRuns)[number]): string {
  const bytes = encoding.decode(run.replace(/\s|\\[nr]|:/g, ''));
  if (bytes.includes('PRIVATE KEY-----') || /^e[wy][\w-]{14,}\.[\w-]*\./.test(bytes.toString('latin1'))) return '[redacted]';
  if (!isKeyDer(bytes)) return run;
  let need = encoding.digitsFor(derLength(bytes));
  let i = 0;
  while (i < run.length && need > 0) {
    runSeparator.lastIndex = i;
    if (runSeparator.test(run)) {
      i = runSeparator.lastIndex;
    } else {
      i++;
      need--;
    }
  }
  return `[redacted]${run.slice(i)}`;
}

/** The length of the DER element `der` starts with, header included; Infinity when its header says none. */
function derLength(der: Buffer): number {
  if (der[1]! < 0x80) return 2 + der[1]!;
  const n = der[1]! & 0x7f;
  return n === 0 || n > 4 || der.length < 2 + n ? Infinity : 2 + n + der.readUIntBE(2, n);
}

/** PBES2 and PKCS#12 PBE algorithm OIDs (1.2.840.113549.1.5.13, 1.2.840.113549.1.12.1.x), as DER. */
const ENCRYPTED_KEY_OIDS = [Buffer.from('06092a864886f70d01050d', 'hex'), Buffer.from('060a2a864886f70d010c01', 'hex')];

/**
 * Whether `der` starts as a private key would: a SEQUENCE whose first element is a small
 * INTEGER (the version of PKCS#8, SEC1, PKCS#1 and PKCS#12 alike), or an encrypted one (its
 * algorithm a password-based one). Certificates, CSRs and public keys begin with a SEQUENCE
 * inside the SEQUENCE instead, and stay.
 */
function isKeyDer(der: Buffer): boolean {
  if (der[0] !== 0x30 || der.length < 8) return false;
  const body = der[1]! < 0x80 ? 2 : 2 + (der[1]! & 0x7f);
  if (der[body] === 0x02 && der[body + 1] === 0x01 && der[body + 2]! <= 3) return true;
  const head = der.subarray(0, 24);
  return ENCRYPTED_KEY_OIDS.some((oid) => head.includes(oid));
}

/** Values the helper knows are secret (a keystore password): never written in a log line. */
const knownSecrets = new Set<string>();

/** `secret` is replaced by `[redacted]` wherever it appears in a later log line. */
export function redactFromLogs(secret: string): void {
  if (secret !== '') knownSecrets.add(secret);
}

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  write?: (line: string) => void;
  now?: () => Date;
}

export function redact(text: string): string {
  let out = secretPatterns.reduce((t, p) => t.replace(p, '[redacted]'), text);
  out = out.replace(privateJwkMember, '$1[redacted]');
  out = out.replace(jwsPattern, (...match) => `${(match.at(-1) as { keep?: string }).keep ?? ''}[redacted]`);
  for (const encoding of encodedRuns) out = out.replace(encoding.pattern, (run) => redactRun(run, encoding));
  for (const secret of knownSecrets) out = out.split(secret).join('[redacted]');
  return out;
}

function scrub(v: Fields[string]): Fields[string] {
  return typeof v === 'string' ? redact(v) : v;
}

/**
 * stderr, a turn of the event loop late: the lines of one turn go out in one write once the
 * turn's work is done. A rotation then signals the wrapped program before paying for its log
 * lines (each write to stderr runs through Node's stream machinery: ~0.1 ms). What is still
 * pending when the process exits is written then.
 */
let pending: string[] = [];
function flush(): void {
  if (pending.length === 0) return;
  const text = pending.join('\n') + '\n';
  pending = [];
  process.stderr.write(text);
}
process.on('exit', flush);
function writeStderrSoon(line: string): void {
  if (pending.length === 0) setImmediate(flush);
  pending.push(line);
}

/**
 * What a terminal or a line splitter acts on: C0 and C1 controls (ESC, NEL, the 8-bit CSI),
 * DEL, the Unicode line and paragraph separators (lines to Python's splitlines and to
 * JavaScript), and the bidi controls that make a line display other than it reads.
 */
const unsafe = /[\p{Cc}\p{Zl}\p{Zp}\u202a-\u202e\u2066-\u2069]/u;
const unsafeAll = new RegExp(unsafe.source, 'gu');

/** A value that needs quoting is written as a JSON string, so that it reads back exactly. */
function textValue(v: string | number | boolean): string {
  const s = String(v);
  return /^[^\s"=]+$/.test(s) && !unsafe.test(s) ? s : oneLine(JSON.stringify(s));
}

/**
 * A message or a value can quote a peer or a file (a fatal error's text is the message, a
 * trust domain or a hint a field): those characters are escaped as JSON escapes them (as
 * `\u` escapes where JSON leaves them raw), so that one event stays one line, shows what it
 * holds, and nobody can forge the next.
 */
function oneLine(text: string): string {
  return text.replace(unsafeAll, (c) => {
    const json = JSON.stringify(c).slice(1, -1);
    return json !== c ? json : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

type Field = [key: string, value: string | number | boolean];

/**
 * The bytes of a line, its newline included, that Docker's json-file driver and CRI runtimes
 * keep in one record: they split a longer line into several, which a collector reads as
 * separate events (the second half without time or level).
 */
const MAX_LINE_BYTES = 16 * 1024;

/**
 * `line(msg, fields)` with every string longer than the largest cap that fits cut to that many
 * bytes, on a character boundary, and `…[cut N bytes]` saying how much went. The values come
 * redacted: a cut never leaves part of a secret that redaction would have caught whole.
 */
function bounded(msg: string, fields: Field[], line: (msg: string, fields: Field[]) => string): string {
  const bytes = new Map<string, Buffer>([msg, ...fields.map(([, v]) => v)].filter((v) => typeof v === 'string').map((v) => [v, Buffer.from(v)]));
  const cut = <T>(v: T, cap: number): T | string => {
    const b = typeof v === 'string' ? bytes.get(v)! : undefined;
    if (!b || b.length <= cap) return v;
    let end = cap;
    while (end > 0 && (b[end]! & 0xc0) === 0x80) end--;
    return `${b.toString('utf8', 0, end)}…[cut ${b.length - end} bytes]`;
  };
  const at = (cap: number): string =>
    line(
      cut(msg, cap),
      fields.map(([k, v]) => [k, cut(v, cap)]),
    );
  const fits = (l: string): boolean => Buffer.byteLength(l) < MAX_LINE_BYTES;
  // The line grows with the cap (the count in a marker shrinks by no more than the text kept
  // grows). A cap of the whole line's bytes cannot fit: the search starts below it.
  let [lo, hi] = [0, Math.min(MAX_LINE_BYTES, Math.max(...[...bytes.values()].map((b) => b.length)))];
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(at(mid))) lo = mid;
    else hi = mid;
  }
  return at(lo);
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const min = order[options.level ?? 'info'];
  const format = options.format ?? 'text';
  const write = options.write ?? writeStderrSoon;
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, msg: string, fields: Fields = {}): void => {
    if (order[level] < min) return;
    const time = now().toISOString();
    msg = redact(msg);
    const clean: Field[] = [];
    for (const [k, v] of Object.entries(fields)) {
      const s = scrub(v);
      if (s !== undefined && s !== null) clean.push([k, s]);
    }
    const line = (msg: string, fields: Field[]): string => {
      // Escaping inside the JSON text keeps every string's value: JSON leaves only those raw.
      if (format === 'json') return oneLine(JSON.stringify({ time, level, msg, ...Object.fromEntries(fields) }));
      return `${time} ${level.toUpperCase().padEnd(5)} ${oneLine(msg)}${fields.map(([k, v]) => ` ${k}=${textValue(v)}`).join('')}`;
    };
    const whole = line(msg, clean);
    write(Buffer.byteLength(whole) < MAX_LINE_BYTES ? whole : bounded(msg, clean, line));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
