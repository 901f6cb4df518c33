/**
 * Renders the configuration documentation from src/config/schema.ts: the README's table and
 * the key reference of docs/configuration.md (each between marker comments, the prose around
 * them written by hand), and the whole of helper.conf.example.
 *
 *   npm run docs        rewrites the three files
 *
 * test/config/schema-docs.test.ts fails while any of them differs from what this renders.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { envVarName, HEALTH_CHECKS_KEYS, JWT_SVID_KEYS, TOP_LEVEL_KEYS, type Group, type KeySpec, type Schema } from '../src/config/schema.js';

const ROOT = new URL('../', import.meta.url);

const GROUP_TITLES: Readonly<Record<Group, string>> = {
  agent: 'Workload API',
  x509: 'X.509-SVID files',
  keystore: 'PKCS#12 keystore and truststore (JVM servers)',
  jwt: 'JWT-SVIDs and JWT bundles',
  mode: 'Daemon or one-shot',
  program: 'Program to start or signal',
  timing: 'Daemon timing of the X.509 files',
  log: 'Logging',
  health: 'Health checks',
};

interface Row {
  /** As written in the docs: `cert_dir`, `health_checks.bind_port`, `jwt_svids[].jwt_audience`. */
  name: string;
  /** The key inside its table, as written in a file. */
  key: string;
  spec: KeySpec;
  /** The variable that sets it, when one does. */
  env?: string;
}

/** Every key in documentation order: by group, and within a group in the schema's order. */
function rows(): Row[] {
  const all: Row[] = [
    ...entries(TOP_LEVEL_KEYS).flatMap(([key, spec]) => {
      const own: Row = { name: key, key, spec, env: envVarName(key) };
      // An entry's keys follow the list they belong to.
      return spec.kind === 'jwt_svids' ? [own, ...entries(JWT_SVID_KEYS).map(([k, s]) => ({ name: `jwt_svids[].${k}`, key: k, spec: s }))] : [own];
    }),
    ...entries(HEALTH_CHECKS_KEYS).map(([key, spec]) => ({ name: `health_checks.${key}`, key, spec, env: envVarName(`health_checks.${key}`) })),
  ];
  const order = Object.keys(GROUP_TITLES);
  return all.map((r, i) => ({ r, i })).sort((a, b) => order.indexOf(a.r.spec.group) - order.indexOf(b.r.spec.group) || a.i - b.i).map(({ r }) => r);
}

function entries(schema: Schema): [string, KeySpec][] {
  return Object.entries(schema);
}

/** The type as the docs name it. */
function typeOf(spec: KeySpec): string {
  if (spec.shown) return spec.shown;
  if ('oneOf' in spec) return spec.oneOf.map((v) => `\`"${v}"\``).join(' \\| ');
  if ('duration' in spec) return spec.max ? `duration (0 to ${spec.max})` : 'duration';
  if ('min' in spec) return `integer (${spec.min} to ${spec.max})`;
  const names: Record<KeySpec['kind'], string> = {
    string: 'string',
    bool: 'bool',
    int: 'integer',
    mode: 'file mode',
    strings: 'array of strings',
    cmd_args: 'array or string',
    log_level: 'string',
    jwt_svids: 'array of tables',
  };
  return names[spec.kind];
}

/** A value as TOML text. */
function toml(spec: KeySpec, value: string | number | boolean): string {
  if (spec.kind === 'mode') return `0o${(value as number).toString(8)}`;
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function defaultOf(spec: KeySpec): string {
  if (spec.defaultShown) return spec.defaultShown;
  return spec.default === undefined ? '—' : `\`${toml(spec, spec.default)}\``;
}

function goOf(spec: KeySpec): string {
  if (!spec.go) return 'ours';
  return spec.goNote ? `yes; ${spec.goNote}` : 'yes';
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** The README's table: what a user scans for; the reference has the rest. */
export function readmeTable(): string {
  const lines = ['| key | type | default | meaning |', '|---|---|---|---|'];
  for (const r of rows()) {
    const ours = r.spec.go ? '' : '*ours*: ';
    lines.push(`| \`${r.name}\` | ${typeOf(r.spec)} | ${defaultOf(r.spec)} | ${ours}${cell(r.spec.doc)} |`);
  }
  return lines.join('\n');
}

/** The key reference of docs/configuration.md: one table per group, every column. */
export function referenceTables(): string {
  const out: string[] = [];
  let group: Group | undefined;
  for (const r of rows()) {
    if (r.spec.group !== group) {
      group = r.spec.group;
      if (out.length > 0) out.push('');
      out.push(`### ${GROUP_TITLES[group]}`, '', '| key | type | default | environment variable | Go helper | meaning |', '|---|---|---|---|---|---|');
    }
    const env = r.env ? `\`${r.env}\`` : `in \`${envVarName('jwt_svids')}\``;
    out.push(`| \`${r.name}\` | ${typeOf(r.spec)} | ${defaultOf(r.spec)} | ${env} | ${cell(goOf(r.spec))} | ${cell(r.spec.doc)} |`);
  }
  return out.join('\n');
}

/** helper.conf.example: every key with its default (or an example), commented out unless it is needed. */
export function exampleFile(): string {
  const out = [
    '# spiffe-helper configuration (TOML). Key names are those of the Go spiffe-helper;',
    '# "ours" marks the keys it does not have. Every key is listed here with its default (or an',
    '# example); uncomment and change what you need. Every key can also be set from the environment,',
    `# which overrides this file: ${envVarName('cert_dir')}=/certs, ${envVarName('health_checks.bind_port')}=8081.`,
    '# Generated from src/config/schema.ts by `npm run docs`; the reference is docs/configuration.md.',
  ];
  let group: Group | undefined;
  for (const r of rows()) {
    if (r.name.startsWith('jwt_svids[]')) continue;
    if (r.spec.group !== group) {
      group = r.spec.group;
      out.push('', `# --- ${GROUP_TITLES[group]} ---`);
      if (group === 'health') out.push('', '# [health_checks]');
    }
    const value = r.spec.example ?? (r.spec.default === undefined ? undefined : toml(r.spec, r.spec.default));
    if (value === undefined) throw new Error(`${r.name}: the schema gives neither a default nor an example`);
    const range = 'duration' in r.spec && r.spec.max ? ` (0 to ${r.spec.max})` : 'min' in r.spec ? ` (${r.spec.min} to ${r.spec.max})` : '';
    const doc = `${r.spec.go ? '' : 'ours: '}${r.spec.doc.replace(/`/g, '')}${range}`;
    out.push('', ...wrap(doc, 98).map((l) => `# ${l}`));
    const line = `${r.key} = ${value}`.split('\n');
    out.push(...(r.spec.active ? line : line.map((l) => `# ${l}`)));
  }
  return out.join('\n') + '\n';
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  return [...lines, line];
}

/** `text` with what stands between `<!-- NAME:begin -->` and `<!-- NAME:end -->` replaced. */
function between(text: string, name: string, content: string, file: string): string {
  const begin = `<!-- ${name}:begin (generated by npm run docs from src/config/schema.ts) -->`;
  const end = `<!-- ${name}:end -->`;
  const b = text.indexOf(begin);
  const e = text.indexOf(end);
  if (b === -1 || e < b) throw new Error(`${file}: the markers ${begin} ... ${end} are missing`);
  return `${text.slice(0, b + begin.length)}\n${content}\n${text.slice(e)}`;
}

/** Each generated file (relative to the repository) with the content it must have. */
export function renderedDocs(): Map<string, string> {
  const read = (path: string): string => readFileSync(new URL(path, ROOT), 'utf8');
  return new Map([
    ['README.md', between(read('README.md'), 'config-table', readmeTable(), 'README.md')],
    ['docs/configuration.md', between(read('docs/configuration.md'), 'config-reference', referenceTables(), 'docs/configuration.md')],
    ['helper.conf.example', exampleFile()],
  ]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [path, content] of renderedDocs()) {
    const url = new URL(path, ROOT);
    if (readFileSync(url, 'utf8') === content) continue;
    writeFileSync(url, content);
    console.log(`wrote ${path}`);
  }
}
