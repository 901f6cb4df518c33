/**
 * One line per event on stderr, as text (default) or JSON. Fields are flat key/values.
 * Private keys and tokens are never passed to the logger; as a second line of defence, a PEM
 * private key or a JWT anywhere in the message or in a string field (quoted inside an error
 * message from a peer, say) is replaced by `[redacted]`, the rest of the text kept.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';
export type Fields = Record<string, string | number | boolean | undefined | null>;

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
/**
 * A PEM private key block, through its END line or, cut short, to the end of the text; and a
 * JWS or JWE compact serialization: a base64url JSON header (`{` encodes as "ey" or "ew") long
 * enough to hold an `alg`, then two to four more segments. Host names and dotted words stay.
 */
const secretPatterns = [/-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g, /\be[wy][\w-]{14,}(?:\.[\w-]*){2,4}/g];

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
  return secretPatterns.reduce((t, p) => t.replace(p, '[redacted]'), text);
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

function textValue(v: string | number | boolean): string {
  const s = String(v);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
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
    const clean: [string, string | number | boolean][] = [];
    for (const [k, v] of Object.entries(fields)) {
      const s = scrub(v);
      if (s !== undefined && s !== null) clean.push([k, s]);
    }
    if (format === 'json') {
      write(JSON.stringify({ time, level, msg, ...Object.fromEntries(clean) }));
    } else {
      const rest = clean.map(([k, v]) => ` ${k}=${textValue(v)}`).join('');
      write(`${time} ${level.toUpperCase().padEnd(5)} ${msg}${rest}`);
    }
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
