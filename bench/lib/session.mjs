import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, watch } from 'node:fs';
import { join } from 'node:path';
import { FILES } from './impls.mjs';
import { benchEnv } from './env.mjs';

/** Every process the harness started, so that nothing outlives it whatever happens. */
const live = new Set();
export function killAll() {
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}
process.on('exit', killAll);

const TAIL = 8192;

/**
 * One helper process. Its stdout carries only what the wrapped child prints (`ready <pid>`,
 * `hup`); its stderr (the helper's log) is kept for error messages.
 */
export class HelperProcess {
  constructor(command, args, { label, timeoutMs = 60_000 } = {}) {
    this.label = label ?? command;
    this.timeoutMs = timeoutMs;
    this.startedAt = performance.now();
    this.proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...benchEnv, SPIFFE_ENDPOINT_SOCKET: '' } });
    this.pid = this.proc.pid;
    live.add(this.pid);
    this.stderrTail = '';
    this.lines = [];
    this.waiters = [];
    this.unexpectedHups = 0;
    this.childPid = undefined;
    let buf = '';
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (chunk) => {
      const at = performance.now();
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        this.onLine(buf.slice(0, nl), at);
        buf = buf.slice(nl + 1);
      }
    });
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (chunk) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-TAIL);
    });
    this.exited = new Promise((resolve) =>
      this.proc.on('exit', (code, signal) => {
        const at = performance.now();
        live.delete(this.pid);
        this.exitInfo = { code, signal, at };
        resolve(this.exitInfo);
        for (const w of this.waiters.splice(0)) w.reject(this.error(`exited (${signal ?? code}) while waiting for "${w.kind}"`));
      }),
    );
  }

  onLine(line, at) {
    const [kind, arg] = line.split(' ');
    if (kind === 'ready') {
      this.childPid = Number(arg);
      live.add(this.childPid);
    }
    const i = this.waiters.findIndex((w) => w.kind === kind);
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      clearTimeout(w.timer);
      w.resolve(at);
    } else if (kind === 'hup') {
      this.unexpectedHups++;
    }
  }

  /** Resolves with the arrival time (performance.now()) of the next `kind` line from the child. */
  next(kind) {
    if (this.exitInfo) return Promise.reject(this.error(`has exited; cannot wait for "${kind}"`));
    return new Promise((resolve, reject) => {
      const w = { kind, resolve, reject };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(this.error(`no "${kind}" from the wrapped child within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiters.push(w);
    });
  }

  error(what) {
    return new Error(`${this.label} (pid ${this.pid}) ${what}; its log ends with:\n${this.stderrTail.slice(-3000)}`);
  }

  /** SIGTERM, then SIGKILL after a grace period; also ends the wrapped child. */
  async stop(graceMs = 5000) {
    if (!this.exitInfo) {
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    if (this.childPid) {
      try {
        process.kill(this.childPid, 'SIGTERM');
      } catch {
        // it went with the helper
      }
      live.delete(this.childPid);
    }
  }
}

/** Complete X.509 files: all three present, each ending with its PEM END line. */
export function filesComplete(certDir) {
  try {
    const svid = readFileSync(join(certDir, FILES.svid), 'utf8');
    const key = readFileSync(join(certDir, FILES.key), 'utf8');
    const bundle = readFileSync(join(certDir, FILES.bundle), 'utf8');
    return svid.endsWith('-----END CERTIFICATE-----\n') && key.endsWith('-----END PRIVATE KEY-----\n') && bundle.endsWith('-----END CERTIFICATE-----\n');
  } catch {
    return false;
  }
}

/**
 * Checks that the files hold the message's default SVID: the leaf is the first block of the
 * SVID file and the key file holds its key. Throws otherwise.
 */
export function checkFiles(certDir, expected, label) {
  const first = (text, type) => {
    const m = new RegExp(`-----BEGIN ${type}-----\\n([\\s\\S]*?)-----END ${type}-----`).exec(text);
    return m ? m[1].replace(/\s+/g, '') : '';
  };
  const svid = readFileSync(join(certDir, FILES.svid), 'utf8');
  const key = readFileSync(join(certDir, FILES.key), 'utf8');
  if (!existsSync(join(certDir, FILES.bundle))) throw new Error(`${label}: ${FILES.bundle} missing`);
  if (first(svid, 'CERTIFICATE') !== expected.leafB64) throw new Error(`${label}: ${FILES.svid} does not hold the SVID just sent`);
  if (first(key, 'PRIVATE KEY') !== expected.keyB64) throw new Error(`${label}: ${FILES.key} does not hold the key just sent`);
}

/**
 * Resolves with the time (performance.now()) at which the X.509 files are all complete in
 * `certDir` (which must exist): inotify events, with a 20 ms poll as a safety net.
 */
export function whenFilesComplete(certDir, timeoutMs, onTimeout) {
  mkdirSync(certDir, { recursive: true });
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (fn, v) => {
      if (done) return;
      done = true;
      watcher.close();
      clearInterval(poll);
      clearTimeout(timer);
      fn(v);
    };
    const check = () => {
      const at = performance.now();
      if (filesComplete(certDir)) finish(resolve, at);
    };
    const watcher = watch(certDir, check);
    const poll = setInterval(check, 20);
    const timer = setTimeout(() => finish(reject, onTimeout()), timeoutMs);
    check();
  });
}
