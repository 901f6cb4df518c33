/**
 * Shared by the hardening suite (agent faults, hostile input, disk faults, soak): snapshots of
 * cert_dir to prove "byte-for-byte unchanged", a JSON log reader for the helper's stderr, and
 * process figures from /proc.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after } from 'node:test';
import { startCli, type Running } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A temp dir under /tmp (short: socket paths must fit in 108 bytes) plus cleanups run after
 * the test, last registered first, before the dir is removed: processes stop before their
 * files disappear.
 */
export class Scope {
  private readonly cleanups: (() => unknown)[] = [];
  constructor(readonly dir: string) {}

  defer(fn: () => unknown): void {
    this.cleanups.push(fn);
  }

  async cleanup(): Promise<void> {
    for (const fn of this.cleanups.reverse()) {
      try {
        await fn();
      } catch {
        // best effort
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function scope(prefix = 'shh-'): Scope {
  const s = new Scope(mkdtempSync(join('/tmp', prefix)));
  after(() => s.cleanup());
  return s;
}

export interface Entry {
  type: 'file' | 'link' | 'dir' | 'other';
  mode: number;
  ino: number;
  mtimeMs: number;
  data?: Buffer;
  target?: string;
}

/** Every entry under `dir` (recursively, symlinks not followed), with file contents. */
export function snapshot(dir: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const relPath = rel ? join(rel, name) : name;
      const abs = join(dir, relPath);
      const st = lstatSync(abs);
      const base = { mode: st.mode & 0o7777, ino: st.ino, mtimeMs: st.mtimeMs };
      if (st.isSymbolicLink()) out.set(relPath, { type: 'link', ...base, target: readlinkSync(abs) });
      else if (st.isDirectory()) {
        out.set(relPath, { type: 'dir', ...base });
        walk(relPath);
      } else if (st.isFile()) out.set(relPath, { type: 'file', ...base, data: readFileSync(abs) });
      else out.set(relPath, { type: 'other', ...base });
    }
  };
  walk('');
  return out;
}

/** Same names, same types, same bytes, same modes, same inodes (nothing was even replaced). */
export function assertUnchanged(before: Map<string, Entry>, after: Map<string, Entry>, what: string): void {
  assert.deepEqual([...after.keys()], [...before.keys()], `${what}: the set of entries in cert_dir changed`);
  for (const [name, b] of before) {
    const a = after.get(name)!;
    assert.equal(a.type, b.type, `${what}: ${name} changed type`);
    assert.equal(a.mode, b.mode, `${what}: ${name} changed mode`);
    if (b.type === 'dir') continue; // a directory's inode is stable but its mtime moves with temp files
    assert.equal(a.ino, b.ino, `${what}: ${name} was replaced`);
    if (b.data) assert.ok(a.data!.equals(b.data), `${what}: ${name} changed content`);
    if (b.target !== undefined) assert.equal(a.target, b.target, `${what}: ${name} points elsewhere`);
  }
}

/** Names the writers use for work in progress: `.name.<hex>.tmp`, `..data_tmp`, `.name.link.tmp`. */
const TEMP = /\.tmp$|^\.\.data_tmp$/;

export function leftovers(dir: string): string[] {
  const found: string[] = [];
  const walk = (rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(join(dir, rel));
    } catch {
      return;
    }
    for (const name of names) {
      const relPath = rel ? join(rel, name) : name;
      if (TEMP.test(name)) found.push(relPath);
      const st = lstatSync(join(dir, relPath));
      if (st.isDirectory() && !st.isSymbolicLink()) walk(relPath);
    }
  };
  walk('');
  return found;
}

/** The serial of the first certificate of a PEM file, or '' when it is missing or unreadable. */
export function serialOf(file: string): string {
  try {
    return new X509Certificate(readFileSync(file)).serialNumber;
  } catch {
    return '';
  }
}

/** The leaf's serial, from concatenated DER as the agent sends it. */
export function leafSerial(chainDer: Buffer): string {
  const len = chainDer[1]! & 0x80 ? chainDer.readUIntBE(2, chainDer[1]! & 0x7f) + 2 + (chainDer[1]! & 0x7f) : chainDer[1]! + 2;
  return new X509Certificate(chainDer.subarray(0, len)).serialNumber;
}

export type LogLine = { level: string; msg: string; [k: string]: unknown };

/** A helper process started with --log-format json, whose stderr is read as events. */
export class Helper {
  constructor(readonly run: Running) {}

  static start(config: string, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Helper {
    return new Helper(startCli(['--config', config, '--log-format', 'json', ...extraArgs], { env }));
  }

  get pid(): number {
    return this.run.child.pid!;
  }

  get alive(): boolean {
    return this.run.child.exitCode === null && this.run.child.signalCode === null;
  }

  lines(from = 0): LogLine[] {
    const out: LogLine[] = [];
    for (const l of this.run.stderr().split('\n').slice(from)) {
      if (!l.startsWith('{')) continue;
      try {
        out.push(JSON.parse(l) as LogLine);
      } catch {
        // a line still being written
      }
    }
    return out;
  }

  /** A position in the log: events after it are "new". */
  mark(): number {
    return this.run.stderr().split('\n').length - 1;
  }

  find(from: number, pred: (l: LogLine) => boolean): LogLine | undefined {
    return this.lines(from).find(pred);
  }

  async waitFor(what: string, from: number, pred: (l: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> {
    return waitFor(
      what,
      () => {
        if (!this.alive) throw new Error(`the helper exited while waiting for ${what}:\n${this.run.stderr()}`);
        return this.find(from, pred);
      },
      timeoutMs,
      10,
    );
  }

  async stop(): Promise<number | null> {
    if (this.alive) this.run.child.kill('SIGTERM');
    const r = await this.run.result;
    return r.code;
  }
}

export const isWritten = (l: LogLine): boolean => l.msg === 'x509 svid written';
export const isRejected = (l: LogLine): boolean => l.msg === 'rejected update from the workload api; keeping the last good state';
/** A write that failed and is tried again on its own (the update itself was accepted). */
export const isWriteFailed = (l: LogLine): boolean => l.msg === 'x509 write failed; retrying';
export const isRetry = (l: LogLine): boolean => l.msg === 'workload api stream interrupted; retrying';

/** The client's documented backoff: d = min(30 s, 200 ms * 2^k), each delay within [d/2, d]. */
export function backoffBound(k: number): { min: number; max: number } {
  const d = Math.min(30_000, 200 * 2 ** k);
  return { min: Math.round(d / 2), max: d };
}

/** A TCP port free right now on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function httpStatus(url: string): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** VmRSS in kB and the number of open descriptors of a live process (Linux /proc). */
export function procStats(pid: number): { rssKb: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return { rssKb, fds: readdirSync(`/proc/${pid}/fd`).length };
}
