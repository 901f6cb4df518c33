import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * A test's Go program (test/interop, test/psa), built from the Go module proxy once into a
 * cache outside the repo, keyed by the hash of its sources, and reused by every later run.
 */
export interface GoBuild {
  binary: string;
  /** False when an earlier run had built this very source. */
  built: boolean;
  /** Time spent here: the Go build when `built`, else the cache lookup. */
  ms: number;
}

const SOURCES = ['go.mod', 'go.sum', 'main.go'];

export async function goBuild(dir: string, name: string): Promise<GoBuild> {
  const started = performance.now();
  const hash = createHash('sha256');
  for (const source of SOURCES)
    hash
      .update(`${source}\0`)
      .update(readFileSync(join(dir, source)))
      .update('\0');
  const cacheRoot = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const out = join(cacheRoot, 'spiffe-helper-ts', name, hash.digest('hex').slice(0, 16));
  const binary = join(out, name);
  if (existsSync(binary)) return { binary, built: false, ms: performance.now() - started };

  mkdirSync(out, { recursive: true });
  // Build beside the target and rename: concurrent test processes never see a partial binary.
  const partial = `${binary}.${process.pid}.tmp`;
  try {
    await new Promise<void>((resolve, reject) =>
      execFile(
        'go',
        ['build', '-trimpath', '-mod=readonly', '-o', partial, '.'],
        // GOWORK=off: a go.work further up must not pull this module into something else.
        { cwd: dir, env: { ...process.env, GOWORK: 'off' }, timeout: 10 * 60_000, maxBuffer: 16 << 20 },
        (err, stdout, stderr) => (err ? reject(new Error(`building ${name} (go build in ${dir}) failed: ${err.message}\n${stdout}${stderr}`)) : resolve()),
      ),
    );
    renameSync(partial, binary);
  } finally {
    rmSync(partial, { force: true });
  }
  return { binary, built: true, ms: performance.now() - started };
}
