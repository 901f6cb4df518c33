import { splitCmdArgs } from '../config/cmd-args.js';
import { HEALTH_CHECKS_KEYS, JWT_SVID_KEYS, TOP_LEVEL_KEYS, type KeyType, type Schema } from '../config/schema.js';
import { HelperError } from '../errors.js';
import { describeValue, GO_CMD_RELAUNCH, goValue, type GoReport } from '../config/go/values.js';
import { parseHcl, HclError, type HclItem, type HclValue } from '../config/go/hcl.js';

export interface ConvertResult {
  toml: string;
  /** One line each, naming the input line: unknown keys, changed values. */
  warnings: string[];
}

type Kind = KeyType | 'health_checks';

/**
 * Every key our loader knows, with how an HCL value becomes a TOML one. Our own keys are
 * accepted too, in case a file was half migrated by hand.
 */
const TOP_LEVEL: Readonly<Record<string, Kind>> = { ...kinds(TOP_LEVEL_KEYS), health_checks: 'health_checks' };
const JWT_SVID: Readonly<Record<string, KeyType>> = kinds(JWT_SVID_KEYS);
const HEALTH_CHECKS: Readonly<Record<string, KeyType>> = kinds(HEALTH_CHECKS_KEYS);

function kinds(schema: Schema): Record<string, KeyType> {
  return Object.fromEntries(Object.entries(schema).map(([key, spec]) => [key, spec.kind]));
}

interface Line {
  comments: string[];
  text: string;
  trailing?: string;
}

class Converter implements GoReport {
  readonly warnings: string[] = [];
  private readonly top: Line[] = [];
  private readonly health: Line[] = [];
  private healthComments: string[] = [];
  private readonly jwtEntries: string[] = [];
  private jwtLine: Line | undefined;
  private readonly seen = new Map<string, number>();

  constructor(private readonly file: string) {}

  convert(text: string): string {
    let hcl;
    try {
      hcl = parseHcl(text);
    } catch (e) {
      if (e instanceof HclError) throw this.error(e.line, e.message);
      throw e;
    }
    for (const item of hcl.items) this.topItem(item);
    const wraps = hcl.items.find((i) => i.key === 'renew_signal' && i.value.kind === 'string' && i.value.value !== '');
    if (wraps && !this.seen.has('cmd_restart_policy') && hcl.items.some((i) => i.key === 'cmd' && i.value.kind === 'string' && i.value.value !== '')) {
      // TOML's default is wrapper semantics: the Go behaviour is kept by saying it.
      this.note(wraps.line, GO_CMD_RELAUNCH);
      this.top.push({ comments: ['The Go helper starts an exited cmd again at the next rotation.'], text: 'cmd_restart_policy = "next-rotation"' });
    }
    const out: string[] = [`# Converted from ${this.file} (Go spiffe-helper HCL) by spiffe-helper convert-config.`, ''];
    const emit = (lines: Line[]): void => {
      lines.forEach((l, i) => {
        // A commented group starts a paragraph, as it most likely did in the input.
        if (l.comments.length > 0 && i > 0) out.push('');
        out.push(...l.comments.map(comment), l.trailing === undefined ? l.text : `${l.text}  ${comment(l.trailing)}`);
      });
    };
    emit(this.top);
    if (this.health.length > 0 || this.healthComments.length > 0) {
      out.push('', ...this.healthComments.map(comment), '[health_checks]');
      emit(this.health);
    }
    if (hcl.trailingComments.length > 0) out.push('', ...hcl.trailingComments.map(comment));
    return out.join('\n') + '\n';
  }

  private topItem(item: HclItem): void {
    const kind = TOP_LEVEL[item.key];
    const previous = this.seen.get(item.key);
    // Repeated `jwt_svids { ... }` blocks are HCL's other way of writing a list.
    if (previous !== undefined && !(kind === 'jwt_svids' && item.block)) {
      throw this.error(item.line, `"${item.key}" is set twice (first on line ${previous})`);
    }
    this.seen.set(item.key, item.line);
    const { comments, trailingComment: trailing } = item;
    if (kind === undefined) {
      this.warn(item.line, `unknown key "${item.key}": not converted (left as a comment)`);
      this.top.push({ comments, text: `# ${item.key} = ${render(item.value)}  # unknown key, not converted` });
      return;
    }
    if (kind === 'health_checks') return this.healthChecks(item, trailing === undefined ? comments : [...comments, trailing]);
    if (kind === 'jwt_svids') return this.jwtSvids(item, trailing === undefined ? comments : [...comments, trailing]);
    const value = this.scalar(item.key, kind, item.value);
    if (value !== undefined) this.top.push({ comments, text: `${item.key} = ${value}`, trailing });
    else if (comments.length > 0) this.top.push({ comments, text: `# ${item.key} = ${render(item.value)}  # not set: the Go helper reads it as the default` });
  }

  /** One value as TOML text, or undefined when the Go helper reads it as "not set" (see goValue). */
  private scalar(key: string, kind: Kind, v: HclValue): string | undefined {
    const value = goValue(key, kind as KeyType, v, this);
    if (value === undefined) return undefined;
    if (kind === 'mode') return `0o${(value as number).toString(8)}`;
    if (typeof value !== 'string') return Array.isArray(value) ? tomlArray(value) : String(value);
    if (kind !== 'cmd_args') return tomlString(value);
    try {
      return tomlArray(splitCmdArgs(value));
    } catch (e) {
      throw this.error(v.line, `cmd_args: ${(e as Error).message}`);
    }
  }

  private jwtSvids(item: HclItem, comments: string[]): void {
    const v = item.value;
    const entries = v.kind === 'list' ? v.items : [v];
    for (const entry of entries) {
      if (entry.kind !== 'object') throw this.error(entry.line, `jwt_svids: each entry must be an object { jwt_audience = "...", jwt_svid_file_name = "..." }, got ${describeValue(entry)}`);
      const fields: string[] = [];
      for (const field of entry.items) {
        const kind = JWT_SVID[field.key];
        if (kind === undefined) {
          this.warn(field.line, `unknown key "${field.key}" in jwt_svids: not converted`);
          continue;
        }
        const value = this.scalar(field.key, kind, field.value);
        if (value !== undefined) fields.push(`${field.key} = ${value}`);
      }
      this.jwtEntries.push(`  { ${fields.join(', ')} },`);
    }
    if (this.jwtLine) {
      this.jwtLine.comments.push(...comments);
    } else {
      this.jwtLine = { comments, text: '' };
      this.top.push(this.jwtLine);
    }
    this.jwtLine.text = this.jwtEntries.length === 0 ? 'jwt_svids = []' : ['jwt_svids = [', ...this.jwtEntries, ']'].join('\n');
  }

  private healthChecks(item: HclItem, comments: string[]): void {
    const v = item.value;
    if (v.kind !== 'object') throw this.error(v.line, `health_checks: must be a block { ... }, got ${describeValue(v)}`);
    this.healthComments = comments;
    let enabled = false;
    let bindAddress = false;
    for (const field of v.items) {
      const kind = HEALTH_CHECKS[field.key];
      if (kind === undefined) {
        this.warn(field.line, `unknown key "${field.key}" in health_checks: not converted (left as a comment)`);
        this.health.push({ comments: field.comments, text: `# ${field.key} = ${render(field.value)}  # unknown key, not converted` });
        continue;
      }
      const value = this.scalar(`health_checks.${field.key}`, kind, field.value);
      if (value === undefined) continue;
      if (field.key === 'listener_enabled') enabled = value === 'true';
      if (field.key === 'bind_address') bindAddress = true;
      this.health.push({ comments: field.comments, text: `${field.key} = ${value}`, trailing: field.trailingComment });
    }
    if (enabled && !bindAddress) {
      this.note(v.line, 'health_checks: the Go helper listens on every interface; bind_address = "0.0.0.0" added (ours defaults to 127.0.0.1)');
      this.health.push({ comments: ['The Go helper listens on every interface (probes come from the kubelet); ours defaults to 127.0.0.1.'], text: 'bind_address = "0.0.0.0"' });
    }
  }

  error(line: number, message: string): HelperError {
    return new HelperError('config', `${this.file}:${line}: ${message}`);
  }

  warn(line: number, message: string): void {
    this.warnings.push(`warning: ${this.file}:${line}: ${message}`);
  }

  note(line: number, message: string): void {
    this.warnings.push(`note: ${this.file}:${line}: ${message}`);
  }
}

/**
 * A Go spiffe-helper configuration (HCL) in, the same configuration as our TOML out, with
 * what the Go helper meant made explicit (a mode of 0 or an empty string means "default"
 * there; its health listener listens on every interface). Throws a 'config' HelperError
 * naming the line on what cannot be converted.
 */
export function convertHcl(text: string, file: string): ConvertResult {
  const c = new Converter(file);
  const toml = c.convert(text);
  return { toml, warnings: c.warnings };
}

function comment(text: string): string {
  return text === '' ? '#' : `# ${text}`;
}

function tomlArray(items: string[]): string {
  return `[${items.map(tomlString).join(', ')}]`;
}

function tomlString(s: string): string {
  // JSON's escapes are TOML's, except that TOML also wants DEL escaped.
  return JSON.stringify(s).replace(/\x7f/g, '\\u007f');
}

/** An HCL value as text, for comments. */
function render(v: HclValue): string {
  switch (v.kind) {
    case 'string':
      return tomlString(v.value);
    case 'number':
      return v.raw;
    case 'bool':
      return String(v.value);
    case 'list':
      return `[${v.items.map(render).join(', ')}]`;
    case 'object':
      return `{ ${v.items.map((i) => `${i.key} = ${render(i.value)}`).join(', ')} }`;
  }
}
