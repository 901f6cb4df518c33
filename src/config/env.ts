/**
 * Configuration from the environment: every top-level key as `SPIFFE_HELPER_<KEY>` (upper
 * case), every `[health_checks]` key as `SPIFFE_HELPER_HEALTH_CHECKS_<KEY>`. Values are typed
 * as in the file; what cannot be typed here is passed on as a string, so that the config
 * reader rejects it with the variable's name. An unknown `SPIFFE_HELPER_*` name is an error:
 * a typo must not silently leave a setting at its default.
 *
 * Precedence, highest first: command-line flags, environment, file, defaults.
 */
import { parse } from 'smol-toml';
import { HelperError } from '../errors.js';
import { isTable, type RawTable } from './keys.js';
import { ENV_PREFIX, envConfigKeys, envVarName, TABLES, TOP_LEVEL_KEYS, type KeyType } from './schema.js';

/**
 * `SPIFFE_HELPER_*` names that the project uses for something other than a config key, which
 * the typo check must leave alone. None today; add one here if it ever is.
 */
const NOT_CONFIG_KEYS: ReadonlySet<string> = new Set<string>();

export interface EnvConfig {
  /** Values shaped like a parsed TOML file. */
  table: RawTable;
  /** Dotted key → the variable it came from, so that errors name the variable. */
  sources: Map<string, string>;
}

/** True when at least one (non-empty) `SPIFFE_HELPER_*` variable is set. */
export function hasEnvConfig(env: NodeJS.ProcessEnv): boolean {
  return Object.entries(env).some(([name, value]) => name.startsWith(ENV_PREFIX) && !NOT_CONFIG_KEYS.has(name) && value !== undefined && value !== '');
}

/** Reads every `SPIFFE_HELPER_*` variable. An empty value counts as not set. */
export function readEnvConfig(env: NodeJS.ProcessEnv): EnvConfig {
  const byName = new Map(envConfigKeys().map((k) => [envVarName(k), k]));
  const table: RawTable = {};
  const sources = new Map<string, string>();
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(ENV_PREFIX) || NOT_CONFIG_KEYS.has(name)) continue;
    const key = byName.get(name);
    if (key === undefined) throw unknownVariable(name, [...byName.keys()]);
    const text = env[name];
    if (text === undefined || text === '') continue;
    const [tableName, sub] = key.includes('.') ? (key.split('.') as [string, string]) : [undefined, key];
    const spec = tableName ? TABLES[tableName]![sub]! : TOP_LEVEL_KEYS[key as keyof typeof TOP_LEVEL_KEYS];
    const value = convert(name, spec.kind, text);
    if (tableName) {
      const t = (table[tableName] ??= {}) as RawTable;
      t[sub] = value;
    } else {
      table[key] = value;
    }
    sources.set(key, name);
  }
  return { table, sources };
}

/** The file's table with the environment's values on top; tables are merged key by key. */
export function applyEnvConfig(file: RawTable, fromEnv: EnvConfig): RawTable {
  const merged: RawTable = { ...file };
  for (const [key, value] of Object.entries(fromEnv.table)) {
    const inFile = merged[key];
    const bothTables = key in TABLES && isTable(inFile) && isTable(value);
    merged[key] = bothTables ? { ...inFile, ...value } : value;
  }
  return merged;
}

function convert(name: string, kind: KeyType, text: string): unknown {
  switch (kind) {
    case 'string':
    case 'log_level':
    case 'strings':
    case 'cmd_args': // the Go helper's string form (`-c "a b"`), split by the config reader
      return text;
    case 'bool':
      // Anything else goes on as a string: the reader says "must be true or false".
      return text === 'true' ? true : text === 'false' ? false : text;
    case 'int':
      return /^[0-9]+$/.test(text) ? Number(text) : text;
    case 'mode':
      // "0644" and "644" are read by the mode reader as in the file; 0o644 is TOML's spelling.
      return /^0o[0-7]+$/.test(text) ? parseInt(text.slice(2), 8) : text;
    case 'jwt_svids':
      return parseTables(name, text);
  }
}

/**
 * `jwt_svids`: a TOML inline array, exactly as in the file, or the same as JSON:
 * `[{ jwt_audience = "api", jwt_svid_file_name = "api.jwt" }]`
 * `[{"jwt_audience": "api", "jwt_svid_file_name": "api.jwt"}]`
 */
function parseTables(name: string, text: string): unknown {
  let value: unknown;
  try {
    const doc = parse(`value = ${text}`);
    if (Object.keys(doc).length !== 1) throw new Error('more than one value');
    value = doc['value'];
  } catch (tomlError) {
    try {
      value = JSON.parse(text);
    } catch {
      const why = (tomlError as Error).message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
      throw new HelperError('config', `${name}: must be a TOML inline array of tables, e.g. [{ jwt_audience = "api", jwt_svid_file_name = "api.jwt" }], or the same as JSON (${why})`);
    }
  }
  if (!Array.isArray(value) || !value.every(isTable)) {
    throw new HelperError('config', `${name}: must be an array of tables, e.g. [{ jwt_audience = "api", jwt_svid_file_name = "api.jwt" }]`);
  }
  return value;
}

function unknownVariable(name: string, known: string[]): HelperError {
  if (name in TABLES_BY_VAR) {
    const keys = Object.keys(TABLES[TABLES_BY_VAR[name]!]!).map((k) => `${name}_${k.toUpperCase()}`);
    return new HelperError('config', `${name}: set the table's keys one variable each: ${keys.join(', ')}`);
  }
  const guess = known
    .map((k) => ({ k, d: distance(name, k) }))
    .sort((a, b) => a.d - b.d)
    .find((g) => g.d <= 3);
  const hint = guess ? `; did you mean ${guess.k}?` : '';
  return new HelperError('config', `${name}: unknown environment variable: no configuration key is named so${hint} (every ${ENV_PREFIX}* variable must set a key)`);
}

const TABLES_BY_VAR: Readonly<Record<string, string>> = Object.fromEntries(Object.keys(TABLES).map((t) => [ENV_PREFIX + t.toUpperCase(), t]));

/** Levenshtein distance, for "did you mean" on misspelt variable names. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
