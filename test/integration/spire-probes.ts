/**
 * For the real-SPIRE tests: SPIRE instances and shipped helpers stopped after the test file
 * (helpers first), and what the tests read from a running helper: its health listener
 * (readiness, the /metrics counters) and a child's event log.
 */
import { existsSync, readFileSync } from 'node:fs';
import { after } from 'node:test';
import { Helper } from '../hardening/lib.js';
import { launcherPath, startCli } from '../helpers/cli.js';
import { startSpire, type Spire, type SpireOptions } from '../helpers/spire.js';

// Registered when the test file imports this module, so on the file's root: a hook registered
// inside a running test would belong to that test, and nothing would stop what later tests start.
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});
const onEnd = (fn: () => Promise<unknown>): void => void cleanups.push(fn);

/** A SPIRE server + agent, stopped after the test file. */
export async function spire(options: SpireOptions = {}): Promise<Spire> {
  const s = await startSpire(options);
  onEnd(() => s.stop());
  return s;
}

/** The shipped helper (bin/spiffe-helper) logging JSON, stopped after the test file (before SPIRE). */
export function helper(config: string): Helper {
  const h = new Helper(startCli(['--config', config, '--log-format', 'json'], { command: launcherPath }));
  onEnd(() => h.stop());
  return h;
}

export interface Readiness {
  status: number;
  body: { live?: boolean; ready?: boolean; last_error?: string; not_ready?: string[]; x509_svid?: { spiffe_id: string; serial: string; not_after: string; expired: boolean } };
}

/** The port of the helper's health listener, from its (JSON) start-up log line. */
export async function healthPort(h: Helper): Promise<number> {
  const l = await h.waitFor('the health listener to start', 0, (x) => x.msg === 'health listener started', 30_000);
  const m = /:(\d+)$/.exec(String(l.address));
  if (!m) throw new Error(`no port in ${JSON.stringify(l)}`);
  return Number(m[1]);
}

export async function readiness(port: number, path: '/ready' | '/live' = '/ready'): Promise<Readiness> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: (await res.json()) as Readiness['body'] };
}

/** Probes /live every 250 ms until stopped; stop() resolves to the statuses seen (0: no answer). */
export function watchLive(port: number): { stop(): Promise<number[]> } {
  const seen: number[] = [];
  let watching = true;
  const loop = (async () => {
    while (watching) {
      seen.push(
        await readiness(port, '/live').then(
          (r) => r.status,
          () => 0,
        ),
      );
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    stop: async () => {
      watching = false;
      await loop;
      return seen;
    },
  };
}

/** Polls `path` until its answer satisfies `ok`; resolves to that answer. */
export async function awaitProbe(port: number, what: string, ok: (r: Readiness) => boolean, timeoutMs = 60_000, path: '/ready' | '/live' = '/ready'): Promise<Readiness> {
  let last: Readiness | undefined;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    last = await readiness(port, path).catch(() => last);
    if (last && ok(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last ${path}: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The sum of every sample of a /metrics family (0 when it has none). */
export async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

export const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
