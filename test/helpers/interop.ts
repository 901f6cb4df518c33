import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The go-spiffe cross-check program (test/interop/main.go), built once into a cache outside
 * the repo, keyed by the hash of its sources, and reused by every later run.
 */
export const interopDir = fileURLToPath(new URL('../interop/', import.meta.url));
const SOURCES = ['go.mod', 'go.sum', 'main.go'];

export interface InteropBuild {
  binary: string;
  /** False when an earlier run had built this very source. */
  built: boolean;
  /** Time spent here: the Go build when `built`, else the cache lookup. */
  ms: number;
}

export interface InteropResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON; undefined when it is not JSON (go-spiffe rejected the input). */
  json: any;
  ms: number;
}

let building: Promise<InteropBuild> | undefined;

/** Builds (or finds) the interop program; one build per process, however many callers. */
export function interopBuild(): Promise<InteropBuild> {
  building ??= build();
  return building;
}

export async function interopBinary(): Promise<string> {
  return (await interopBuild()).binary;
}

async function build(): Promise<InteropBuild> {
  const started = performance.now();
  const hash = createHash('sha256');
  for (const name of SOURCES) hash.update(`${name}\0`).update(readFileSync(join(interopDir, name))).update('\0');
  const cacheRoot = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const dir = join(cacheRoot, 'spiffe-helper-ts', 'interop', hash.digest('hex').slice(0, 16));
  const binary = join(dir, 'interop');
  if (existsSync(binary)) return { binary, built: false, ms: performance.now() - started };

  mkdirSync(dir, { recursive: true });
  // Build beside the target and rename: concurrent test processes never see a partial binary.
  const partial = `${binary}.${process.pid}.tmp`;
  try {
    await new Promise<void>((resolve, reject) =>
      execFile(
        'go',
        ['build', '-trimpath', '-mod=readonly', '-o', partial, '.'],
        // GOWORK=off: a go.work further up must not pull this module into something else.
        { cwd: interopDir, env: { ...process.env, GOWORK: 'off' }, timeout: 10 * 60_000, maxBuffer: 16 << 20 },
        (err, stdout, stderr) =>
          err
            ? reject(new Error(`building the go-spiffe interop program (go build in ${interopDir}) failed: ${err.message}\n${stdout}${stderr}`))
            : resolve(),
      ),
    );
    renameSync(partial, binary);
  } finally {
    rmSync(partial, { force: true });
  }
  return { binary, built: true, ms: performance.now() - started };
}

/** Runs the interop program; never throws for a non-zero exit (negative tests want it). */
export async function runInterop(args: string[], options: { timeoutMs?: number } = {}): Promise<InteropResult> {
  const binary = await interopBinary();
  const started = performance.now();
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  }).finally(() => clearTimeout(timer));
  let json: any;
  try {
    json = JSON.parse(stdout);
  } catch {
    json = undefined;
  }
  return { code, stdout, stderr, json, ms: performance.now() - started };
}
