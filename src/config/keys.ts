/**
 * Typed reads of one TOML table, each error naming the key, the file and (when it can be
 * found) the line. The table's schema gives each key its type and default; a table is read
 * once, and whatever key nobody asked for is reported as unknown.
 */
import { HelperError } from '../errors.js';
import { isPlainObject } from '../guards.js';
import { formatDuration, parseDuration } from './duration.js';
import { nameProblem, pathProblem } from '../output/names.js';
import type { DurationSpec, EnumSpec, IntSpec, KeySpec, KeyType, OneOf, Schema, TOP_LEVEL_KEYS } from './schema.js';

export type RawTable = Record<string, unknown>;

/** The reader of a whole config: its top-level keys. */
export type TopLevelReader = TableReader<typeof TOP_LEVEL_KEYS>;

/** The keys of `S` whose spec is a `Spec`: what a typed read may ask for. */
type KeysOf<S extends Schema, Spec> = { [K in keyof S]: S[K] extends Spec ? K : never }[keyof S] & string;
type Kind<K extends KeyType> = { kind: K };
/** A string key with a default always has a value. */
type StringValue<Spec> = Spec extends { default: string } ? string : string | undefined;

export class TableReader<S extends Schema = Schema> {
  private readonly seen = new Set<string>();

  constructor(
    private readonly table: RawTable,
    private readonly where: Where,
    private readonly schema: S,
    /** Dotted prefix for nested tables, e.g. `health_checks.` or `jwt_svids[0].`. */
    private readonly prefix = '',
  ) {}

  error(key: string, message: string): HelperError {
    return this.where.error(this.prefix + key, message);
  }

  has(key: keyof S & string): boolean {
    this.seen.add(key);
    return this.table[key] !== undefined;
  }

  /** A string key; its default when it has one and is not set. */
  string<K extends KeysOf<S, Kind<'string'>>>(key: K): StringValue<S[K]> {
    const v = this.take(key) ?? (this.schema[key] as KeySpec).default;
    if (v !== undefined && typeof v !== 'string') throw this.error(key, `must be a string, got ${describe(v)}`);
    return v as StringValue<S[K]>;
  }

  nonEmptyString<K extends KeysOf<S, Kind<'string'>>>(key: K): StringValue<S[K]> {
    const v = this.string(key);
    if (v === '') throw this.error(key, 'must not be empty');
    return v;
  }

  bool(key: KeysOf<S, Kind<'bool'>>): boolean {
    const v = this.take(key);
    if (v === undefined) return this.schema[key]!.default as boolean;
    if (typeof v !== 'boolean') throw this.error(key, `must be true or false, got ${describe(v)}`);
    return v;
  }

  int(key: KeysOf<S, IntSpec>): number {
    const { default: fallback, min, max } = this.schema[key] as IntSpec;
    const v = this.take(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw this.error(key, `must be an integer, got ${describe(v)}`);
    if (v < min || v > max) throw this.error(key, `must be between ${min} and ${max}, got ${v}`);
    return v;
  }

  /** A duration string (`"500ms"`, `"2s"`) in milliseconds. */
  duration(key: KeysOf<S, DurationSpec>): number {
    const spec = this.schema[key] as DurationSpec;
    const text = this.take(key) ?? spec.default;
    if (typeof text !== 'string') throw this.error(key, `must be a string, got ${describe(text)}`);
    let ms: number;
    try {
      ms = parseDuration(text);
    } catch (e) {
      throw this.error(key, (e as Error).message);
    }
    const maxMs = spec.max === undefined ? undefined : parseDuration(spec.max);
    if (maxMs !== undefined && ms > maxMs) throw this.error(key, `must be at most ${formatDuration(maxMs)}, got ${JSON.stringify(text)}`);
    return ms;
  }

  /** File modes: TOML octal `0o644`, or the string `"0644"` as Go helper configs write them. */
  mode(key: KeysOf<S, Kind<'mode'>>): number {
    const v = this.take(key);
    if (v === undefined) return this.schema[key]!.default as number;
    let mode: number;
    if (typeof v === 'number' && Number.isInteger(v)) mode = v;
    else if (typeof v === 'string' && /^0?[0-7]{3,4}$/.test(v)) mode = parseInt(v, 8);
    else {
      throw this.error(key, `must be a file mode such as 0o644 or "0644", got ${describe(v)}`);
    }
    if (mode < 0 || mode > 0o777) throw this.error(key, `must be a permission mode between 0o000 and 0o777, got 0o${mode.toString(8)}`);
    return mode;
  }

  stringArray(key: KeysOf<S, Kind<'strings'>>): string[] | undefined {
    const v = this.take(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
      throw this.error(key, `must be an array of strings, got ${describe(v)}`);
    }
    return v;
  }

  /** A table of keys of `schema`; when it is not set, an empty one, which reads as the defaults. */
  subtable<T extends Schema>(key: string, schema: T): TableReader<T> {
    const v = this.take(key) ?? {};
    if (!isTable(v)) throw this.error(key, `must be a table, got ${describe(v)}`);
    return new TableReader(v, this.where, schema, `${this.prefix}${key}.`);
  }

  tableArray<T extends Schema>(key: KeysOf<S, Kind<'jwt_svids'>>, schema: T): TableReader<T>[] {
    const v = this.take(key);
    if (v === undefined) return [];
    if (!Array.isArray(v) || !v.every(isTable)) throw this.error(key, `must be an array of tables, got ${describe(v)}`);
    return v.map((t, i) => new TableReader(t, this.where, schema, `${this.prefix}${key}[${i}].`));
  }

  /**
   * A file inside cert_dir: a name, never a path, so that no output escapes the directory, and
   * none of the names the helper keeps for itself there (names.ts).
   */
  fileName(key: KeysOf<S, Kind<'string'>>): string | undefined {
    const v = this.nonEmptyString(key);
    const problem = v === undefined ? undefined : nameProblem(v);
    if (problem !== undefined) throw this.error(key, `must be a file name inside cert_dir: ${JSON.stringify(v)} ${problem}`);
    return v;
  }

  /** A file name or path (relative to cert_dir, or absolute), as the Go helper's file model allows. */
  filePath(key: KeysOf<S, Kind<'string'>>): string | undefined {
    const v = this.nonEmptyString(key);
    const problem = v === undefined ? undefined : pathProblem(v);
    if (problem !== undefined) throw this.error(key, `must be a file name ${v!.includes('/') ? 'or path' : 'inside cert_dir'}: ${JSON.stringify(v)} ${problem}`);
    return v;
  }

  /** One of the values the schema lists for the key. */
  oneOf<K extends KeysOf<S, EnumSpec>>(key: K): OneOf<S, K> {
    const { oneOf: allowed, default: fallback } = this.schema[key] as EnumSpec;
    const v = this.take(key) ?? fallback;
    if (typeof v !== 'string') throw this.error(key, `must be a string, got ${describe(v)}`);
    if (!allowed.includes(v)) throw this.error(key, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
    return v as OneOf<S, K>;
  }

  raw(key: keyof S & string): unknown {
    return this.take(key);
  }

  /**
   * Call after reading every key: anything left is a typo or an unsupported key. (The typed
   * reads take only the schema's keys, so what was read is what the schema knows.)
   */
  rejectUnknown(): void {
    for (const key of Object.keys(this.table)) {
      if (!this.seen.has(key)) throw this.error(key, 'unknown key');
    }
  }

  private take(key: string): unknown {
    this.seen.add(key);
    return this.table[key];
  }
}

/**
 * Where the config came from: the file name and its text, to point at lines; and, for keys
 * set by `SPIFFE_HELPER_*` variables, which variable (dotted key → name), to name it instead.
 */
export class Where {
  constructor(
    readonly file: string,
    private readonly text: string,
    private readonly envSources: ReadonlyMap<string, string> = new Map(),
    /** Dotted key → line, when the reader of the file's dialect knows them (HCL, HCL-JSON). */
    private readonly lines: ReadonlyMap<string, number> = new Map(),
  ) {}

  error(dottedKey: string, message: string): HelperError {
    const variable = this.envSources.get(dottedKey) ?? this.envSources.get(dottedKey.split(/[.[]/)[0]!);
    if (variable) return new HelperError('config', `${variable}: ${dottedKey}: ${message}`);
    const line = this.lines.get(dottedKey) ?? this.lineOf(dottedKey);
    const at = line ? `${this.file}:${line}` : this.file;
    return new HelperError('config', `${at}: ${dottedKey}: ${message}`);
  }

  private lineOf(dottedKey: string): number | undefined {
    const last = dottedKey
      .replace(/\[\d+\]/g, '')
      .split('.')
      .pop()!;
    const escaped = last.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const re = new RegExp(`^\\s*(?:["']?)${escaped}(?:["']?)\\s*=|[{,]\\s*${escaped}\\s*=`);
    const idx = this.text.split('\n').findIndex((l) => re.test(l));
    return idx === -1 ? undefined : idx + 1;
  }
}

/** A TOML table: an object that is neither an array nor a date (smol-toml gives dates as Date). */
export function isTable(v: unknown): v is RawTable {
  return isPlainObject(v) && !(v instanceof Date);
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Date) return 'a date';
  if (typeof v === 'object' && v !== null) return 'a table';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}
