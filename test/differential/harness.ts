import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, chownSync, createWriteStream, type Dirent, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { startDevAgent, type DevAgent } from '../../src/dev/agent.js';
import { tempTarget } from '../../src/output/names.js';

/**
 * Runs the Go spiffe-helper v0.11.0 and ours side by side on one Go configuration, against the
 * same development agent, each in a fresh working directory, and reduces what each did to a
 * flat record of observations (`file certs/svid.pem mode` → `0644`), so that two runs compare
 * key by key. Long-running configs run both helpers at once against an agent that rotates
 * every 2 s; one-shot configs use an agent that does not rotate, so that files compare byte
 * for byte.
 */
export const CORPUS_DIR = new URL('../fixtures/go-configs/', import.meta.url).pathname;
const RECORDER = new URL('./recorder.sh', import.meta.url).pathname;
const RUN = new URL('./run.ts', import.meta.url).pathname;
const REPO = new URL('../../', import.meta.url).pathname;

export type Observations = Map<string, string>;

export interface Difference {
  config: string;
  key: string;
  go: string;
  ours: string;
}

export interface Agents {
  /** Rotates every 2 s (4 s SVIDs): for long-running configs. */
  rotating: DevAgent;
  /** One SVID for the whole run: for one-shot configs, whose files compare byte for byte. */
  stable: DevAgent;
  close(): Promise<void>;
}

export async function startAgents(dir: string): Promise<Agents> {
  // Federated with one partner: the bundles of federated trust domains are compared too.
  const federatedTrustDomains = ['partner.example'];
  const rotating = await startDevAgent({ socketPath: join(dir, 'rotating.sock'), svidTtlSeconds: 4, jwtTtlSeconds: 600, federatedTrustDomains });
  const stable = await startDevAgent({ socketPath: join(dir, 'stable.sock'), svidTtlSeconds: 3600, jwtTtlSeconds: 600, federatedTrustDomains });
  return { rotating, stable, close: async () => void (await Promise.all([rotating.close(), stable.close()])) };
}

/** The Go helper, built once into the user's cache by bench/build-reference.sh. */
export function goHelperBinary(): string {
  const out = execFileSync('bash', [join(REPO, 'bench/build-reference.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, REFERENCE_TAGS: 'v0.11.0' } });
  return out.trim().split('\n').pop()!;
}

export function corpus(): string[] {
  return readdirSync(CORPUS_DIR)
    .filter((f) => f.endsWith('.conf') || f.endsWith('.json'))
    .sort();
}

interface Run {
  dir: string;
  port: number;
  recorderLog: string;
  pidProcess?: ChildProcess;
}

/**
 * Runs both helpers on one config; the observations of each. A run in which the Go helper
 * panicked (exit 2, "panic:" in its log: seen once on a loaded CI machine, at its shutdown of a
 * JWT-only config) says nothing about either helper's behaviour: it is run again, once.
 */
export async function compareConfig(name: string, goBinary: string, agents: Agents, workRoot: string): Promise<{ go: Observations; ours: Observations }> {
  const result = await compareConfigOnce(name, goBinary, agents, workRoot);
  const goLog = `${join(workRoot, `${basename(name)}-go`)}.log`;
  if (result.go.get('exit') !== '2' || !/^panic: /m.test(readFileSync(goLog, 'utf8'))) return result;
  process.stderr.write(`# ${name}: the Go helper panicked (exit 2); running the comparison again\n${readFileSync(goLog, 'utf8')}\n`);
  return compareConfigOnce(name, goBinary, agents, workRoot);
}

async function compareConfigOnce(name: string, goBinary: string, agents: Agents, workRoot: string): Promise<{ go: Observations; ours: Observations }> {
  const template = readFileSync(join(CORPUS_DIR, name), 'utf8');
  const oneShot = /daemon_mode"?\s*[=:]\s*false/.test(template);
  const agent = oneShot ? agents.stable : agents.rotating;
  const helpers: ChildProcess[] = [];
  const runs = await Promise.all(['go', 'ours'].map((who) => prepare(join(workRoot, `${basename(name)}-${who}`), template, agent.socketPath)));
  try {
    const [goRun, oursRun] = runs as [Run & { config: string }, Run & { config: string }];
    // A wrapped server stays up; a reload command, or a wrapped cmd the config says exits, does not.
    const wait = /renew_signal"?\s*[=:]\s*"SIG/.test(template) && !directives(template).some((d) => d[0] === 'cmd-exits') ? '1' : '0';
    const start = (binary: string[], run: Run & { config: string }) =>
      spawn(binary[0]!, [...binary.slice(1), '-config', run.config], {
        cwd: run.dir,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, RECORDER_LOG: run.recorderLog, RECORDER_WAIT: wait, SPIFFE_ENDPOINT_SOCKET: '', SPIRE_AGENT_ADDRESS: '' },
      });
    const goChild = start([goBinary], goRun);
    const oursChild = start([process.execPath, join(REPO, 'dist/cli.js')], oursRun);
    helpers.push(goChild, oursChild);
    for (const [child, run] of [
      [goChild, goRun],
      [oursChild, oursRun],
    ] as const) {
      const log = createWriteStream(`${run.dir}.log`);
      child.stdout!.pipe(log);
      child.stderr!.pipe(log);
    }
    const exits = [exitOf(goChild), exitOf(oursChild)];
    if (!oneShot) {
      // The first files of both, then long enough for a rotation (every 2 s) with its signal or re-run.
      // Generous: on a loaded machine 3 s was once too short, the inodes were never compared and
      // the documented "new inode per rotation" looked gone.
      const early = await firstFiles([goRun, oursRun], 15_000);
      if (early) await rotation(oursRun, early[1], 4500, 15_000);
      const health = await Promise.all([goRun, oursRun].map((r) => probeHealth(template, r.port)));
      goChild.kill('SIGTERM');
      oursChild.kill('SIGTERM');
      const codes = await Promise.all(exits.map((e) => withTimeout(e, 10_000)));
      await sleep(500);
      return {
        go: observe(goRun, codes[0]!, health[0]!, oneShot, early?.[0]),
        ours: observe(oursRun, codes[1]!, health[1]!, oneShot, early?.[1]),
      };
    }
    const codes = await Promise.all(exits.map((e) => withTimeout(e, 20_000)));
    return { go: observe(goRun, codes[0]!, new Map(), oneShot), ours: observe(oursRun, codes[1]!, new Map(), oneShot) };
  } finally {
    for (const h of helpers) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
    for (const r of runs) killLeftovers(r);
  }
}

async function prepare(dir: string, template: string, socket: string): Promise<Run & { config: string }> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const recorderLog = join(dir, '..', `${basename(dir)}.recorder.log`);
  writeFileSync(recorderLog, '');
  let pidProcess: ChildProcess | undefined;
  let text = template.replaceAll('@AGENT@', socket).replaceAll('@PORT@', String(port)).replaceAll('@DIR@', dir);
  if (text.includes('@PIDFILE@')) {
    const pidFile = join(dir, '..', `${basename(dir)}.pid`);
    pidProcess = spawn(RECORDER, [], { stdio: 'ignore', env: { ...process.env, RECORDER_LOG: recorderLog, RECORDER_WAIT: '1' } });
    await sleep(200);
    writeFileSync(pidFile, `${pidProcess.pid}\n`);
    text = text.replaceAll('@PIDFILE@', pidFile);
  }
  // Every command is the recorder; its arguments stay as written.
  text = text.replace(/^(\s*"?cmd"?\s*[=:]\s*)"[^"]+"/m, `$1${JSON.stringify(RECORDER)}`);
  // The cert_dir exists, as in a deployment (the Go helper does not create it).
  const certDir = text.match(/^\s*"?cert_dir"?\s*[=:]\s*"([^"]*)"/m)?.[1];
  if (certDir) mkdirSync(join(dir, certDir), { recursive: true });
  setUp(dir, template);
  const config = join(dir, '..', `${basename(dir)}.conf`);
  writeFileSync(config, text);
  return { dir, port, recorderLog, pidProcess, config };
}

/**
 * `# differential: <what>` lines of a config: what a deployment sets up before the helper starts.
 *   mkdir DIR...                 directories the outputs go to (mounts)
 *   file PATH UID:GID MODE       a file there already (chowned by an operator)
 *   symlink PATH -> TARGET       a symlink planted under an output's name (TARGET holds "planted")
 *   cmd-exits                    the wrapped cmd exits at once instead of staying up
 */
function directives(template: string): string[][] {
  return [...template.matchAll(/^\s*(?:#|\/\/) differential: (.+)$/gm)].map((m) => m[1]!.trim().split(/\s+/));
}

function setUp(dir: string, template: string): void {
  for (const [what, ...args] of directives(template)) {
    if (what === 'mkdir') args.forEach((d) => mkdirSync(join(dir, d), { recursive: true }));
    if (what === 'file') {
      const [path, owner, mode] = args as [string, string, string];
      writeFileSync(join(dir, path), 'placed by the operator\n', { mode: parseInt(mode, 8) });
      chmodSync(join(dir, path), parseInt(mode, 8));
      const [uid, gid] = owner.split(':').map(Number) as [number, number];
      chownSync(join(dir, path), uid, gid);
    }
    if (what === 'symlink') {
      const [path, , target] = args as [string, string, string];
      mkdirSync(dirname(join(dir, path, '..', target)), { recursive: true });
      writeFileSync(join(dir, path, '..', target), 'planted\n');
      symlinkSync(target, join(dir, path));
    }
  }
}

/**
 * The inodes of the first files, once both runs have written the same ones (the Go helper may
 * take longer to start, and JWT files may come after the X.509 ones), each run's limited to the
 * files both have; undefined when that does not happen within `ms`.
 */
async function firstFiles(runs: [Run, Run], ms: number): Promise<[Map<string, number>, Map<string, number>] | undefined> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const [a, b] = runs.map((r) => inodes(r.dir)) as [Map<string, number>, Map<string, number>];
    if (a.size > 0 && a.size === b.size && [...a.keys()].every((k) => b.has(k))) return [a, b];
    await sleep(100);
  }
  return undefined;
}

/**
 * Waits `minMs`, then, on a loaded machine, until a file of `run` has a new inode (a rotation
 * written by rename) or `maxMs` have passed: a fixed wait once ended before our first rotation
 * was written, and the documented "new inode per rotation" looked gone. The Go helper writes in
 * place, so only our run can show a rotation this way; both runs wait the same.
 */
async function rotation(run: Run, early: Map<string, number>, minMs: number, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  await sleep(minMs);
  const rotated = () => [...inodes(run.dir)].some(([file, ino]) => early.has(file) && early.get(file) !== ino);
  while (!rotated() && Date.now() < deadline) await sleep(200);
}

/**
 * The outputs' inodes: not our lock (`..spiffe-helper.lock/`), which the Go helper has no
 * counterpart of, nor a temporary of a write in progress (`.<name>.<hex>.tmp`), which may be
 * renamed away between the listing and its stat (seen on a clean-clone run: ENOENT).
 */
function inodes(dir: string): Map<string, number> {
  const outputs = walk(dir).filter((f) => {
    const parts = relative(dir, f).split('/');
    return !parts.some((part) => part.startsWith('..')) && tempTarget(parts.at(-1)!) === undefined;
  });
  const found = outputs.map((f) => [relative(dir, f), statSync(f, { throwIfNoEntry: false })?.ino] as const);
  return new Map(found.filter((e): e is readonly [string, number] => e[1] !== undefined));
}

/** Everything compared: exit code, files (paths, modes, owners, content, inode across a rotation), health, the child's log. */
function observe(run: Run, code: string, health: Observations, oneShot: boolean, early?: Map<string, number>): Observations {
  const o: Observations = new Map([['exit', code]]);
  for (const file of walk(run.dir)) {
    const rel = relative(run.dir, file);
    const st = statSync(file);
    if (lstatSync(file).isSymbolicLink()) o.set(`file ${rel} kind`, 'symlink');
    // Whether a reader holding the file open (or watching its inode) sees the rotation in it.
    if (early?.has(rel)) o.set(`file ${rel} inode after a rotation`, early.get(rel) === st.ino ? 'same' : 'new');
    o.set(`file ${rel} mode`, (st.mode & 0o7777).toString(8).padStart(4, '0'));
    o.set(`file ${rel} owner`, `${st.uid === process.getuid?.() ? 'me' : st.uid}:${st.gid === process.getgid?.() ? 'me' : st.gid}`);
    o.set(`file ${rel} content`, describeContent(readFileSync(file), oneShot));
  }
  for (const [k, v] of health) o.set(k, v);
  const events = readFileSync(run.recorderLog, 'utf8').split('\n').filter(Boolean);
  const starts = events.filter((e) => e.startsWith('start') && e.split(' ')[1] !== `pid=${run.pidProcess?.pid}`);
  if (starts.length > 0) {
    o.set('child args', starts[0]!.replace(/^start pid=\d+ ?/, ''));
    // Counts depend on timing; what is compared is whether it happened.
    o.set('child started', starts.length > 1 ? 'more than once' : 'once');
  } else {
    o.set('child started', 'never');
  }
  const signals = [...new Set(events.filter((e) => e.startsWith('signal')))].sort();
  o.set('child signalled', signals.join(', ') || 'never');
  if (!oneShot && starts.length > 0) o.set('child stopped with the helper', events.some((e) => e.startsWith('stop')) ? 'yes' : 'no');
  return o;
}

/**
 * PEM files: the blocks and, for certificates, each one's SPIFFE ID (bytes differ across a
 * rotation); bytes too for one-shot runs, which share one SVID. JWTs: the claims that matter.
 */
function describeContent(data: Buffer, oneShot: boolean): string {
  const text = data.toString('utf8');
  const blocks = [...text.matchAll(/-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g)];
  if (blocks.length > 0) {
    const parts = blocks.map((b) => (b[1] === 'CERTIFICATE' ? `CERT(${uriOf(b[0])})` : b[1]!));
    return oneShot ? `${parts.join(' ')} sha=${hash(data)}` : parts.join(' ');
  }
  if (/^[\w-]+\.[\w-]+\.[\w-]+\s*$/.test(text)) {
    const claims = JSON.parse(Buffer.from(text.split('.')[1]!, 'base64url').toString());
    return `JWT sub=${claims.sub} aud=${[claims.aud].flat().join(',')}`;
  }
  try {
    return `JSON keys=${Object.keys(JSON.parse(text)).sort().join(',')} sha=${hash(data)}`;
  } catch {
    return `${data.length} bytes sha=${hash(data)}`;
  }
}

function uriOf(pem: string): string {
  const cert = new X509Certificate(pem);
  return cert.subjectAltName?.match(/URI:([^,]+)/)?.[1] ?? (cert.ca ? 'CA' : 'no URI');
}

function hash(data: Buffer): string {
  return execFileSync('sha256sum', { input: data, encoding: 'utf8' }).slice(0, 12);
}

async function probeHealth(template: string, port: number): Promise<Observations> {
  const o: Observations = new Map();
  if (!/listener_enabled"?\s*[=:]\s*true/.test(template)) return o;
  for (const key of ['liveness_path', 'readiness_path']) {
    const path = template.match(new RegExp(`${key}"?\\s*[=:]\\s*"([^"]+)"`))?.[1] ?? (key === 'liveness_path' ? '/live' : '/ready');
    try {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3000) });
      o.set(`health ${path} status`, String(res.status));
      const body = await res.text();
      o.set(`health ${path} body`, canonical(body, GO_HEALTH_FIELDS));
      o.set(`health ${path} body, other fields`, otherFields(body, GO_HEALTH_FIELDS));
    } catch (e) {
      o.set(`health ${path} status`, `unreachable (${(e as Error).message})`);
    }
  }
  return o;
}

/** The members of the Go helper's health body: compared as they are; ours carries more beside them. */
const GO_HEALTH_FIELDS = ['status', 'health'];

/** The body with sorted members, `only` those at the top. */
function canonical(body: string, only: readonly string[]): string {
  try {
    const sort = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(sort)
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.entries(v)
                .sort(([a], [b]) => a.localeCompare(b))
                .map(([k, x]) => [k, sort(x)]),
            )
          : v;
    const top = Object.entries(JSON.parse(body) as Record<string, unknown>).filter(([k]) => only.includes(k));
    return JSON.stringify(sort(Object.fromEntries(top)));
  } catch {
    return body.trim();
  }
}

function otherFields(body: string, known: readonly string[]): string {
  try {
    return (
      Object.keys(JSON.parse(body) as Record<string, unknown>)
        .filter((k) => !known.includes(k))
        .sort()
        .join(',') || 'none'
    );
  } catch {
    return 'not JSON';
  }
}

/** The differences between the two runs of one config, key by key. */
export function differences(config: string, go: Observations, ours: Observations): Difference[] {
  const keys = [...new Set([...go.keys(), ...ours.keys()])].sort();
  return keys.filter((k) => go.get(k) !== ours.get(k)).map((key) => ({ config, key, go: go.get(key) ?? '(none)', ours: ours.get(key) ?? '(none)' }));
}

export function table(diffs: Difference[]): string {
  if (diffs.length === 0) return 'no differences';
  const rows = [['config', 'what', 'Go v0.11.0', 'ours'], ...diffs.map((d) => [d.config, d.key, d.go, d.ours])];
  const widths = rows[0]!.map((_, i) => Math.min(60, Math.max(...rows.map((r) => r[i]!.length))));
  return rows.map((r) => r.map((c, i) => (c.length > 60 ? `${c.slice(0, 57)}...` : c.padEnd(widths[i]!))).join(' | ')).join('\n');
}

/** Children a helper left running (the Go helper does not stop its cmd), and the pid-file process. */
function killLeftovers(run: Run): void {
  run.pidProcess?.kill('SIGKILL');
  for (const m of readFileSync(run.recorderLog, 'utf8').matchAll(/^start pid=(\d+)/gm)) {
    try {
      process.kill(Number(m[1]), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** The files under `dir`; a directory removed while it is read (a version directory swapped away) has none. */
function walk(dir: string): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return entries.flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

function exitOf(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal ? `signal ${signal}` : String(code))));
}

function withTimeout(p: Promise<string>, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still running'), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * Runs the whole comparison (run.ts) in a new network namespace with only its own loopback:
 * the Go helper's health listener binds every interface (`:port`), and so does ours for a Go
 * config, so that nothing a test starts is reachable from outside this machine.
 */
export async function compareInPrivateNetwork(names: string[], workRoot: string): Promise<Map<string, Difference[]>> {
  const out = join(workRoot, 'differences.json');
  const unshare = process.getuid?.() === 0 ? ['--net'] : ['--map-root-user', '--net'];
  const args = [...unshare, 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', process.execPath, '--import', 'tsx', RUN, '--json', out, ...names];
  const child = spawn('unshare', args, { cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise<number | null>((resolve, reject) => child.on('error', reject).on('close', resolve));
  if (code !== 0) throw new Error(`the comparison in a private network namespace (unshare ${args.join(' ')}) exited ${code}`);
  return new Map(JSON.parse(readFileSync(out, 'utf8')) as [string, Difference[]][]);
}

export function tempRoot(): string {
  return mkdtempSync(join(tmpdir(), 'differential-'));
}

/** Every config of `names`, `concurrency` at a time (most of a run is waiting for a rotation). */
export async function compareAll(names: string[], goBinary: string, agents: Agents, workRoot: string, concurrency = 3): Promise<Map<string, Difference[]>> {
  const result = new Map<string, Difference[]>();
  const queue = [...names];
  const worker = async (): Promise<void> => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const { go, ours } = await compareConfig(name, goBinary, agents, workRoot);
      result.set(name, differences(name, go, ours));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return new Map(names.map((n) => [n, result.get(n)!]));
}

/** A difference the project knows of: why, and what will remove it (or why it stays). */
export interface DocumentedDifference {
  /** The README's bullet, and the title src/convert/differences.ts says it under. */
  title: string;
  configs: string[];
  /** For a difference no config can show: the test that proves it. */
  proof?: { file: string; test: string };
  /** Anchored regular expressions over the observation's key and each helper's value. */
  key: string;
  go: string;
  ours: string;
  reason: string;
  fix: string;
}

export const DOCUMENTED = new URL('./documented-differences.json', import.meta.url).pathname;

export function documented(): DocumentedDifference[] {
  return (JSON.parse(readFileSync(DOCUMENTED, 'utf8')) as { differences: DocumentedDifference[] }).differences;
}

export function matches(doc: DocumentedDifference, d: Difference): boolean {
  const full = (re: string, s: string): boolean => new RegExp(`^(?:${re})$`).test(s);
  return doc.configs.includes(d.config) && full(doc.key, d.key) && full(doc.go, d.go) && full(doc.ours, d.ours);
}
