import type { KeyType } from '../schema.js';
import type { HelperError } from '../../errors.js';
import type { HclValue } from './hcl.js';

/** Where goValue reports what it met: `warn` for a changed meaning, `note` for a Go default made explicit. */
export interface GoReport {
  warn(line: number, message: string): void;
  note(line: number, message: string): void;
  error(line: number, message: string): HelperError;
}

export type GoValue = string | number | boolean | string[];

/**
 * Said once, by convert-config and at start-up, when a Go config wraps a program with
 * renew_signal and does not choose a cmd_restart_policy: it gets the Go helper's behaviour.
 */
export const GO_CMD_RELAUNCH =
  'cmd with renew_signal: when the program exits, it is started again at the next rotation and the helper keeps going, as the Go helper does (cmd_restart_policy = "next-rotation"; "always" restarts it at once, "never" makes the helper exit with its exit code)';

/** logrus levels (what the Go helper accepts, in any case) → ours. */
const LOG_LEVELS: Readonly<Record<string, string>> = { trace: 'debug', debug: 'debug', info: 'info', warn: 'warn', warning: 'warn', error: 'error', fatal: 'error', panic: 'error' };

/**
 * One HCL value as the Go helper reads it, as a value of our key's type; undefined when the
 * Go helper reads it as "not set" (an empty string, a mode or port of 0), so that our default
 * applies too. The one reading of Go values, for convert-config and the config loader alike.
 */
export function goValue(key: string, kind: KeyType, v: HclValue, report: GoReport): GoValue | undefined {
  const wrong = (what: string): HelperError => report.error(v.line, `${key}: must be ${what}, got ${describeValue(v)}`);
  switch (kind) {
    case 'string':
    case 'log_level': {
      if (v.kind !== 'string') throw wrong('a string');
      if (v.value === '') {
        report.note(v.line, `${key} = "": the Go helper reads an empty string as "not set"; left out`);
        return undefined;
      }
      return kind === 'log_level' ? logLevel(v.value, v.line, report) : v.value;
    }
    case 'bool': {
      if (v.kind === 'bool') return v.value;
      if (v.kind === 'string' && (v.value === 'true' || v.value === 'false')) return v.value === 'true';
      throw wrong('true or false');
    }
    case 'int': {
      const n = v.kind === 'number' ? v.value : v.kind === 'string' && /^\d+$/.test(v.value) ? Number(v.value) : NaN;
      if (!Number.isInteger(n)) throw wrong('an integer');
      if (n === 0) {
        report.note(v.line, `${key} = 0: the Go helper reads 0 as "the default"; left out`);
        return undefined;
      }
      return n;
    }
    case 'mode':
      return mode(key, v, report);
    case 'cmd_args': {
      if (v.kind === 'list') return goValue(key, 'strings', v, report);
      if (v.kind !== 'string') throw wrong('a string');
      return v.value === '' ? undefined : v.value;
    }
    case 'strings': {
      if (v.kind === 'string') return [v.value];
      if (v.kind !== 'list' || !v.items.every((i) => i.kind === 'string')) throw wrong('a list of strings');
      return v.items.map((i) => (i as { value: string }).value);
    }
    case 'jwt_svids':
      throw new Error('jwt_svids is a list of objects, not a scalar');
  }
}

/**
 * HCL reads `0644` as octal and `644` as the decimal number 644, which the Go helper then
 * uses as mode 0o1204. A three- or four-digit decimal made of octal digits is surely meant
 * as octal: it is read so, with a warning. A string is read like a number (`"0644"`).
 */
function mode(key: string, v: HclValue, report: GoReport): number | undefined {
  let raw: string;
  if (v.kind === 'number') raw = v.raw;
  else if (v.kind === 'string' && /^\d+$/.test(v.value)) raw = v.value;
  else throw report.error(v.line, `${key}: must be a file mode such as 0644, got ${describeValue(v)}`);
  let m: number;
  if (/^0[0-7]*$/.test(raw)) {
    m = parseInt(raw, 8);
  } else if (/^[0-7]{3,4}$/.test(raw)) {
    m = parseInt(raw, 8);
    report.warn(v.line, `${key} = ${raw}: HCL reads this as the decimal number ${raw} (mode 0o${Number(raw).toString(8)}); read as 0o${m.toString(8)}, the octal mode it surely means`);
  } else {
    m = Number(raw);
  }
  if (m === 0) {
    report.note(v.line, `${key} = 0: the Go helper reads 0 as "the default"; left out`);
    return undefined;
  }
  if (!Number.isInteger(m) || m < 0 || m > 0o777) throw report.error(v.line, `${key}: ${raw} is not a permission mode (0 to 0777)`);
  return m;
}

function logLevel(level: string, line: number, report: GoReport): string {
  const ours = LOG_LEVELS[level.toLowerCase()];
  if (ours === undefined) return level;
  if (ours !== level) report.note(line, `log_level "${level}" read as "${ours}"`);
  return ours;
}

export function describeValue(v: HclValue): string {
  switch (v.kind) {
    case 'string':
      return `the string ${JSON.stringify(v.value)}`;
    case 'number':
      return `the number ${v.raw}`;
    case 'bool':
      return String(v.value);
    case 'list':
      return 'a list';
    case 'object':
      return 'an object';
  }
}
