import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { goBuild, type GoBuild } from './go-build.js';

/**
 * The go-spiffe cross-check program (test/interop/main.go), built once into a cache outside
 * the repo (./go-build.ts).
 */
export const interopDir = fileURLToPath(new URL('../interop/', import.meta.url));

export type InteropBuild = GoBuild;

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
  building ??= goBuild(interopDir, 'interop');
  return building;
}

export async function interopBinary(): Promise<string> {
  return (await interopBuild()).binary;
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
