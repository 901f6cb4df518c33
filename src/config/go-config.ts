import { goValue, type GoReport } from './go/values.js';
import type { HclFile, HclItem, HclValue } from './go/hcl.js';
import { HelperError } from '../errors.js';
import { isPlainObject } from '../guards.js';
import type { RawTable } from './keys.js';
import { HEALTH_CHECKS_KEYS, JWT_SVID_KEYS, TOP_LEVEL_KEYS, type Schema } from './schema.js';

/** The syntaxes a config file may be written in; TOML is the documented one. */
export type Dialect = 'toml' | 'hcl' | 'hcl-json';

/** A Go helper config read into the shape of a parsed TOML file, ready for normalizeConfig. */
export interface GoTable {
  table: RawTable;
  /** Dotted key (`jwt_svids[1].jwt_audience`) → its line, for errors. */
  lines: Map<string, number>;
  /** Notes and warnings about what the Go helper's reading changed, each naming its line. */
  notices: string[];
}

/**
 * HCL-JSON (what the Go helper's HCL library reads when the text starts with `{`) as the HCL
 * tree the HCL reader makes, with each key's line found in the text.
 */
export function parseGoJson(text: string, file: string): HclFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new HelperError('config', `${file}: invalid HCL-JSON: ${(e as Error).message}`);
  }
  if (!isPlainObject(doc)) throw new HelperError('config', `${file}: invalid HCL-JSON: the top level must be an object`);
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  let cursor = 0;
  // Keys are met in document order, so each is the next `"key":` after the previous one.
  const lineOfKey = (key: string): number => {
    const re = new RegExp(`${escapeRegExp(JSON.stringify(key))}\\s*:`, 'g');
    re.lastIndex = cursor;
    const m = re.exec(text);
    if (m) cursor = m.index + m[0].length;
    return lineAt(m ? m.index : cursor);
  };
  const lineAt = (offset: number): number => {
    let n = 0;
    while (n + 1 < lineStarts.length && lineStarts[n + 1]! <= offset) n++;
    return n + 1;
  };
  const value = (v: unknown, line: number): HclValue => {
    if (typeof v === 'string') return { kind: 'string', value: v, line };
    if (typeof v === 'number') return { kind: 'number', value: v, raw: String(v), line };
    if (typeof v === 'boolean') return { kind: 'bool', value: v, line };
    if (Array.isArray(v)) return { kind: 'list', items: v.map((x) => value(x, line)), line };
    if (isPlainObject(v)) return { kind: 'object', items: items(v), line };
    throw new HelperError('config', `${file}:${line}: null is not a value the Go helper reads`);
  };
  const items = (o: Record<string, unknown>): HclItem[] =>
    Object.entries(o).map(([key, v]) => {
      const line = lineOfKey(key);
      return { key, value: value(v, line), line, block: false, comments: [] };
    });
  return { items: items(doc), trailingComments: [] };
}

/**
 * The items of a Go helper config as the table our reader reads, each value read as the Go
 * helper reads it (goValue: "" and 0 are "not set", `0644` is octal). Repeated `jwt_svids`
 * blocks are one list, as in HCL. Unknown keys are kept, for the reader to reject by line.
 */
export function goTable(hcl: HclFile, file: string): GoTable {
  const lines = new Map<string, number>();
  const notices: string[] = [];
  const report: GoReport = {
    warn: (line, message) => notices.push(`warning: ${file}:${line}: ${message}`),
    note: (line, message) => notices.push(`note: ${file}:${line}: ${message}`),
    error: (line, message) => new HelperError('config', `${file}:${line}: ${message}`),
  };
  const table: RawTable = {};
  const jwtSvids: RawTable[] = [];
  const read = (into: RawTable, prefix: string, item: HclItem, schema: Schema): void => {
    const dotted = prefix + item.key;
    if (lines.has(dotted)) throw report.error(item.line, `"${dotted}" is set twice (first on line ${lines.get(dotted)})`);
    lines.set(dotted, item.line);
    const spec = schema[item.key];
    const value = spec === undefined ? plain(item.value) : goValue(dotted, spec.kind, item.value, report);
    if (value !== undefined) into[item.key] = value;
  };
  for (const item of hcl.items) {
    if (item.key === 'jwt_svids') {
      if (!lines.has('jwt_svids')) lines.set('jwt_svids', item.line);
      const entries = item.value.kind === 'list' ? item.value.items : [item.value];
      for (const entry of entries) {
        if (entry.kind !== 'object') throw report.error(entry.line, 'jwt_svids: each entry must be an object { jwt_audience = "...", jwt_svid_file_name = "..." }');
        const t: RawTable = {};
        const prefix = `jwt_svids[${jwtSvids.length}].`;
        lines.set(prefix.slice(0, -1), entry.line);
        for (const field of entry.items) read(t, prefix, field, JWT_SVID_KEYS);
        jwtSvids.push(t);
      }
      table['jwt_svids'] = jwtSvids;
    } else if (item.key === 'health_checks') {
      const v = item.value.kind === 'list' && item.value.items.length === 1 ? item.value.items[0]! : item.value;
      if (v.kind !== 'object') throw report.error(v.line, 'health_checks: must be a block { ... }');
      if (lines.has('health_checks')) throw report.error(item.line, `"health_checks" is set twice (first on line ${lines.get('health_checks')})`);
      lines.set('health_checks', item.line);
      const t: RawTable = {};
      for (const field of v.items) read(t, 'health_checks.', field, HEALTH_CHECKS_KEYS);
      if (t['listener_enabled'] === true && t['bind_address'] === undefined) {
        // The kubelet probes the pod's address: a Go config with health checks relies on this.
        t['bind_address'] = '0.0.0.0';
        report.note(v.line, 'health_checks: the Go helper listens on every interface; so does this one for this file (bind_address = "0.0.0.0"; ours defaults to 127.0.0.1)');
      }
      table['health_checks'] = t;
    } else {
      read(table, '', item, TOP_LEVEL_KEYS);
    }
  }
  return { table, lines, notices };
}

/**
 * The Go helper's "not set" in a file read as TOML: an empty string, or a mode of 0, leaves
 * the key at its default (as goValue does for HCL), so that Go configs that are also valid
 * TOML (its sample helper.conf: `cmd = ""`) mean what they meant.
 */
export function dropGoUnset(table: RawTable): RawTable {
  return Object.fromEntries(
    Object.entries(table).filter(([key, v]) => {
      const kind = (TOP_LEVEL_KEYS as Schema)[key]?.kind;
      if (v === '' && (kind === 'string' || kind === 'log_level' || kind === 'cmd_args')) return false;
      return !(v === 0 && kind === 'mode');
    }),
  );
}

/** A value of a key nobody knows, kept only so that the reader can name it. */
function plain(v: HclValue): unknown {
  if (v.kind === 'list') return v.items.map(plain);
  if (v.kind === 'object') return Object.fromEntries(v.items.map((i) => [i.key, plain(i.value)]));
  return v.value;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
