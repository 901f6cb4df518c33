import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The built CLI, run as users run it (tests/.ci build it first). */
export const cliPath = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
/** The installed command (package.json bin, the image's ENTRYPOINT): the bundle under tuned V8 flags. */
export const launcherPath = fileURLToPath(new URL('../../bin/spiffe-helper', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface Running {
  child: ChildProcess;
  result: Promise<CliResult>;
  stderr(): string;
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run this command instead of `node dist/cli.js` (e.g. launcherPath). */
  command?: string;
}

/** Helpers started by this test file and not yet exited. */
const running = new Set<ChildProcess>();

/**
 * A test that fails before stopping the helper it started must not leave it running: its pipes
 * keep the test file from exiting, and the run waits on it for as long as the helper lives. It
 * is stopped as a user would stop it (SIGTERM: it stops its own child), then killed.
 */
after(async () => {
  await Promise.all(
    [...running].map(async (child) => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }),
  );
});

export function startCli(args: string[], options: CliOptions = {}): Running {
  const started = performance.now();
  const [cmd, argv] = options.command ? [options.command, args] : [process.execPath, [cliPath, ...args]];
  const child = spawn(cmd, argv, {
    cwd: options.cwd,
    env: { ...process.env, SPIFFE_ENDPOINT_SOCKET: '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  running.add(child);
  child.once('exit', () => running.delete(child));
  const result = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: performance.now() - started })));
  return { child, result, stderr: () => stderr };
}

export async function runCli(args: string[], options: CliOptions & { timeoutMs?: number } = {}): Promise<CliResult> {
  const run = startCli(args, options);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  try {
    return await run.result;
  } finally {
    clearTimeout(timer);
  }
}

/** Writes a helper.conf for the usual three X.509 files and returns its path. */
export function writeConfig(dir: string, agentAddress: string | undefined, extra = ''): string {
  const file = join(dir, 'helper.conf');
  const address = agentAddress === undefined ? '' : `agent_address = "${agentAddress}"\n`;
  writeFileSync(
    file,
    `${address}cert_dir = "${join(dir, 'certs')}"
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "bundle.pem"
${extra}`,
  );
  return file;
}
