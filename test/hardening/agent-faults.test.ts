/**
 * Agent faults against the helper CLI in daemon mode: the agent closed, SIGKILLed, restarted,
 * its socket file removed, every call refused for a while, streams that stall or end cleanly
 * (a raw grpc-js server plays the agent where a real one cannot), and floods of identical
 * updates. Whatever happens the helper keeps running, keeps the last good files byte for byte,
 * retries at the documented rate (200 ms doubling, jitter [d/2, d], cap 30 s) and recovers
 * within one backoff step once the agent is back.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect as h2connect, constants as h2, createServer as h2server, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Server, ServerCredentials, status, type ServerWritableStream } from '@grpc/grpc-js';
import { startDevAgent, type DevAgent } from '../../src/dev/agent.js';
import { Backoff } from '../../src/backoff.js';
import { workloadServiceDefinition } from '../../src/dev/service.js';
import type { X509SVIDResponseMessage } from '../../src/workload/proto.js';
import { cliPath, writeConfig } from '../helpers/cli.js';
import { delay, waitFor } from '../helpers/wait.js';
import { assertUnchanged, backoffBound, freePort, Helper, httpStatus, isRejected, isRetry, isWritten, leafSerial, leftovers, serialOf, scope, snapshot, type Scope } from './lib.js';

const counts = { faults: 0, retriesObserved: 0, anomalies: 0 };
after(() => console.log(`# agent faults: ${counts.faults} faults injected, ${counts.retriesObserved} retries observed, ${counts.anomalies} anomalies`));

const certsOf = (dir: string) => join(dir, 'certs');
const svidOf = (dir: string) => join(dir, 'certs', 'svid.pem');
const healthConf = (port: number) => `[health_checks]\nlistener_enabled = true\nbind_port = ${port}\n`;
const currentSerial = (a: DevAgent) => leafSerial(a.current()!.svids[0]!.x509_svid);

async function agentAt(s: Scope, socketPath: string, svidTtlSeconds = 3600): Promise<DevAgent> {
  const a = await startDevAgent({ socketPath, svidTtlSeconds });
  s.defer(() => a.close());
  return a;
}

function startHelper(s: Scope, address: string, extra = ''): Helper {
  const h = Helper.start(writeConfig(s.dir, address, extra));
  s.defer(() => h.stop());
  return h;
}

/** Waits until the helper logs that the set with this serial is in place; returns how long that took. */
async function waitSerial(h: Helper, dir: string, want: string, timeoutMs = 15_000): Promise<number> {
  const t = Date.now();
  await h.waitFor(`the files of serial ${want}`, 0, (l) => isWritten(l) && l.serial === want, timeoutMs);
  const took = Date.now() - t;
  assert.equal(serialOf(svidOf(dir)), want);
  return took;
}

/** Most faults start from here: an agent on `<dir>/agent.sock` and a helper that wrote its first set. */
async function runningScene(prefix: string) {
  const s = scope(prefix);
  const dir = s.dir;
  const sock = join(dir, 'agent.sock');
  const a1 = await agentAt(s, sock);
  const h = startHelper(s, a1.address);
  await waitSerial(h, dir, currentSerial(a1));
  return { s, dir, sock, a1, h };
}

/**
 * Recovery comes with the retry that was pending when the agent came back: the agent gets the
 * helper's call no later than the last retry before the write plus that retry's delay (and 1 s
 * of slack). Measured at the agent, not at the "written" line, which also counts the write (the
 * set's renames and fsyncs, which a loaded machine can stretch past the slack). Read after the
 * write, so a retry that failed while the agent was still starting counts too.
 */
function assertRecoveredAtPendingRetry(h: Helper, from: number, agent: DevAgent, what: string): { pending: number; late: number } {
  const lines = h.lines(from);
  const write = lines.findLastIndex(isWritten);
  const last = lines.slice(0, write).filter(isRetry).at(-1)!;
  const pending = Number(last.retry_in_ms);
  const retriedAt = Date.parse(String(last.time));
  const call = agent.calls.find((c) => c.method === 'FetchX509SVID' && c.at >= retriedAt);
  assert.ok(call, `the agent got no call after the last retry ${what}`);
  const late = call.at - (retriedAt + pending);
  assert.ok(late <= 1000, `reconnected ${late} ms after the pending retry was due (${pending} ms) ${what}`);
  return { pending, late };
}

/** Counts what a suite saw go wrong before failing on it. */
function unchanged(before: ReturnType<typeof snapshot>, dir: string, what: string): void {
  try {
    assertUnchanged(before, snapshot(dir), what);
  } catch (e) {
    counts.anomalies++;
    throw e;
  }
}

/**
 * The announced retry delays (retry_in_ms) follow the client's Backoff sequence: step k within
 * [d/2, d], d = min(30 s, 200 ms * 2^k). A stream that delivered no message does not reset
 * the backoff, so a sequence may start at a later step: `start` says which, or it is inferred.
 */
function assertBackoffSequence(delays: number[], what: string, start?: number): number {
  const fits = (k0: number) => delays.every((d, i) => d >= backoffBound(k0 + i).min && d <= backoffBound(k0 + i).max);
  const k0 = start ?? [...Array(12).keys()].find(fits);
  assert.ok(k0 !== undefined && fits(k0), `${what}: announced delays ${delays} do not follow the backoff from step ${start ?? 'any'}`);
  counts.retriesObserved += delays.length;
  return k0;
}

/** Observed gaps between calls: never faster than the backoff allows, never much slower. */
function assertCallGaps(times: number[], since: number, what: string, start = 0): number[] {
  const gaps = times.map((t, i) => t - (i === 0 ? since : times[i - 1]!));
  gaps.forEach((g, i) => {
    const { min, max } = backoffBound(start + i);
    assert.ok(g >= min - 15, `${what}: call ${i + 1} came ${g} ms after the previous one, faster than the backoff floor ${min} ms (gaps ${gaps})`);
    assert.ok(g <= max + 600, `${what}: call ${i + 1} came ${g} ms after the previous one, later than the backoff ceiling ${max} ms (gaps ${gaps})`);
  });
  return gaps;
}

/**
 * A Workload API server that misbehaves in ways a real agent does not: it never answers
 * (`stall`), ends every stream cleanly without a message (`end`), or sends one message and
 * then ends the stream (`send-then-end`). It records when each FetchX509SVID call arrived.
 */
class FakeAgent {
  readonly calls: number[] = [];
  private readonly server = new Server();
  private readonly open = new Set<ServerWritableStream<unknown, unknown>>();

  private constructor(
    readonly socketPath: string,
    private mode: 'stall' | 'end' | 'send-then-end',
    private message?: X509SVIDResponseMessage,
  ) {}

  static async start(s: Scope, socketPath: string, mode: FakeAgent['mode'], message?: X509SVIDResponseMessage): Promise<FakeAgent> {
    const f = new FakeAgent(socketPath, mode, message);
    const refuse = (_call: unknown, cb: (e: object) => void) => cb({ code: status.UNIMPLEMENTED, details: 'fake' });
    f.server.addService(workloadServiceDefinition(), {
      FetchX509SVID: (call: ServerWritableStream<unknown, unknown>) => {
        f.calls.push(Date.now());
        if (f.mode === 'stall') {
          f.open.add(call);
          call.on('cancelled', () => f.open.delete(call));
          return;
        }
        if (f.mode === 'send-then-end') call.write(f.message);
        call.end();
      },
      FetchX509Bundles: (call: ServerWritableStream<unknown, unknown>) => call.end(),
      FetchJWTBundles: (call: ServerWritableStream<unknown, unknown>) => call.end(),
      FetchJWTSVID: refuse,
      ValidateJWTSVID: refuse,
    });
    await new Promise<void>((resolve, reject) => f.server.bindAsync(`unix:${socketPath}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
    s.defer(() => f.close());
    return f;
  }

  get stalled(): number {
    return this.open.size;
  }

  setMode(mode: FakeAgent['mode']): void {
    this.mode = mode;
  }

  /** Ends the stalled streams cleanly (OK status, no message). */
  endStalled(): void {
    for (const call of this.open) call.end();
    this.open.clear();
  }

  async close(): Promise<void> {
    this.server.forceShutdown();
    rmSync(this.socketPath, { force: true });
  }
}

test('backoff: 200 ms doubling, jitter within [d/2, d], capped at 30 s, reset by a message', () => {
  for (const random of [() => 0, () => 0.999_999, Math.random]) {
    const b = new Backoff({ random });
    const seq = Array.from({ length: 40 }, () => b.next());
    seq.forEach((d, k) => {
      const { min, max } = backoffBound(k);
      assert.ok(d >= min && d <= max, `step ${k}: ${d} not in [${min}, ${max}]`);
    });
    assert.ok(Math.max(...seq) <= 30_000, 'never above the 30 s cap');
    assert.ok(
      seq.slice(20).every((d) => d >= 15_000),
      'at the cap, never below 15 s (no hot loop)',
    );
    b.reset();
    assert.ok(b.next() <= 200, 'a message resets the backoff');
  }
});

describe('agent faults', { concurrency: 3 }, () => {
  test('agent closed mid-stream, then restarted on the same socket: files kept, bounded retries, quick recovery', async () => {
    const { s, dir, sock, a1, h } = await runningScene('shf-');
    const before = snapshot(certsOf(dir));
    const m = h.mark();
    await a1.close();
    counts.faults++;
    await delay(3000);
    const retries = h.lines(m).filter(isRetry);
    assertBackoffSequence(
      retries.map((l) => Number(l.retry_in_ms)),
      'agent gone',
      0,
    );
    // Cumulative backoff floors are 100, 300, 700, 1500, 3100 ms: at most 5 failures in 3 s, at least 3.
    assert.ok(retries.length >= 3 && retries.length <= 5, `failures logged in 3 s: ${retries.length}`);
    assert.match(String(retries.at(-1)!.reason), /no agent at socket .*agent\.sock \(socket file not found\)/);
    unchanged(before, certsOf(dir), 'while the agent is down');
    assert.ok(h.alive);

    const a2 = await agentAt(s, sock);
    const recovered = await waitSerial(h, dir, currentSerial(a2), 31_000);
    const { pending } = assertRecoveredAtPendingRetry(h, m, a2, 'after the restart');
    t_diag(`agent restart: ${retries.length} retries in 3 s (${retries.map((l) => l.retry_in_ms)} ms), recovered ${recovered} ms after restart (pending retry ${pending} ms)`);
    assert.deepEqual(leftovers(certsOf(dir)), []);
  });

  test('agent SIGKILLed (stale socket file left behind), then restarted: files kept, recovery', async () => {
    const s = scope('shk-');
    const dir = s.dir;
    const sock = join(dir, 'agent.sock');
    const startAgentProcess = async () => {
      const p = spawn(process.execPath, [cliPath, 'dev-agent', '--socket', sock, '--ttl', '1h'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr!.on('data', (d) => (err += d));
      s.defer(() => p.kill('SIGKILL'));
      await waitFor('the dev agent to listen', () => /dev agent listening/.test(err));
      return p;
    };
    const p1 = await startAgentProcess();
    const h = startHelper(s, `unix://${sock}`);
    const first = await h.waitFor('the first write', 0, isWritten);
    const before = snapshot(certsOf(dir));
    const m = h.mark();
    p1.kill('SIGKILL');
    counts.faults++;
    await waitFor('the helper to retry twice', () => h.lines(m).filter(isRetry).length >= 3);
    assert.ok(existsSync(sock), 'SIGKILL leaves the socket file behind');
    const retries = h.lines(m).filter(isRetry);
    assertBackoffSequence(
      retries.map((l) => Number(l.retry_in_ms)),
      'agent killed',
      0,
    );
    assert.ok(
      retries.slice(1).some((l) => /no agent is listening at socket/.test(String(l.reason))),
      `a stale socket is reported as "no agent is listening": ${retries.map((l) => l.reason).join(' | ')}`,
    );
    unchanged(before, certsOf(dir), 'after the agent was killed');
    await startAgentProcess();
    const next = await h.waitFor('a write from the restarted agent', m, isWritten, 31_000);
    assert.notEqual(next.serial, first.serial);
    assert.equal(serialOf(svidOf(dir)), next.serial);
    assert.ok(h.alive);
  });

  test('socket file removed under a live agent: the open stream goes on; once the agent is gone, a recreated socket is found', async () => {
    const { s, dir, sock, a1, h } = await runningScene('shs-');
    rmSync(sock);
    counts.faults++;
    await a1.rotate();
    await waitSerial(h, dir, currentSerial(a1), 5000); // still delivered over the established connection
    const before = snapshot(certsOf(dir));
    const m = h.mark();
    await a1.close();
    await waitFor('two retries', () => h.lines(m).filter(isRetry).length >= 2);
    const retries = h.lines(m).filter(isRetry);
    assert.match(String(retries[1]!.reason), /no agent at socket .* \(socket file not found\)/);
    unchanged(before, certsOf(dir), 'while the socket file is missing');
    const a2 = await agentAt(s, sock); // the socket file is recreated by a new agent
    await waitSerial(h, dir, currentSerial(a2), 31_000);
    assertRecoveredAtPendingRetry(h, m, a2, 'after the socket came back');
    assert.ok(h.alive);
  });

  test('every call answered UNAVAILABLE for 5 s: call rate follows the backoff, files and health kept, recovery within one step', async () => {
    const s = scope('shu-');
    const dir = s.dir;
    const agent = await agentAt(s, join(dir, 'agent.sock'));
    const port = await freePort();
    const h = startHelper(s, agent.address, healthConf(port));
    await waitSerial(h, dir, currentSerial(agent));
    const before = snapshot(certsOf(dir));
    const m = h.mark();
    const t0 = Date.now();
    agent.setFault('FetchX509SVID', { code: status.UNAVAILABLE, message: 'overloaded (test fault)' });
    counts.faults++;
    await delay(5000);
    const during = agent.calls.filter((c) => c.method === 'FetchX509SVID' && c.at >= t0).map((c) => c.at);
    const gaps = assertCallGaps(during, t0, 'UNAVAILABLE');
    // Cumulative floors 100, 300, 700, 1500, 3100, 6300 ms and ceilings 200, 600, 1400, 3000, 6200 ms.
    assert.ok(during.length >= 4 && during.length <= 5, `calls during a 5 s fault: ${during.length} (gaps ${gaps})`);
    assertBackoffSequence(
      h
        .lines(m)
        .filter(isRetry)
        .map((l) => Number(l.retry_in_ms)),
      'UNAVAILABLE',
      0,
    );
    assert.match(String(h.find(m, isRetry)!.reason), /unavailable: overloaded \(test fault\)/);
    unchanged(before, certsOf(dir), 'during the fault');
    assert.equal(await httpStatus(`http://127.0.0.1:${port}/live`), 200, 'live while the agent refuses');
    assert.equal(await httpStatus(`http://127.0.0.1:${port}/ready`), 200, 'ready: the SVID on disk is still valid');

    agent.setFault('FetchX509SVID', null);
    const t1 = Date.now();
    await agent.rotate();
    await waitSerial(h, dir, currentSerial(agent), 31_000);
    const { pending } = assertRecoveredAtPendingRetry(h, m, agent, 'after the fault cleared');
    t_diag(`UNAVAILABLE 5 s: ${during.length} calls, gaps ${gaps.join(',')} ms; recovered ${Date.now() - t1} ms after the fault cleared (pending retry ${pending} ms)`);
    await waitFor('one open stream', () => agent.openStreams('FetchX509SVID') === 1);
    await delay(300);
    assert.equal(agent.openStreams('FetchX509SVID'), 1, 'exactly one stream after recovery (no leaked streams)');
  });

  test('identity no longer issued for a while (PERMISSION_DENIED on an established stream): retried with backoff, logged as "no longer issues", files kept, then recovery', async () => {
    const s = scope('shp-');
    const dir = s.dir;
    const agent = await agentAt(s, join(dir, 'agent.sock'));
    const h = startHelper(s, agent.address);
    await waitSerial(h, dir, currentSerial(agent));
    const before = snapshot(certsOf(dir));
    const m = h.mark();
    const t0 = Date.now();
    agent.setIdentities([]);
    await agent.rotate();
    counts.faults++;
    await delay(1600);
    const during = agent.calls.filter((c) => c.method === 'FetchX509SVID' && c.at >= t0).map((c) => c.at);
    assertCallGaps(during, t0, 'PERMISSION_DENIED');
    assert.ok(during.length >= 2 && during.length <= 4, `calls in 1.6 s: ${during.length}`);
    assert.match(String(h.find(m, isRetry)!.reason), /the agent no longer issues an identity to this workload/);
    unchanged(before, certsOf(dir), 'while no identity is issued');
    agent.setIdentities([{ spiffeId: 'spiffe://example.org/workload' }]);
    await agent.rotate();
    await waitSerial(h, dir, currentSerial(agent), 31_000);
  });

  test('INVALID_ARGUMENT is not retried: the daemon exits 5 after exactly one call', async () => {
    const s = scope('shi-');
    const dir = s.dir;
    const agent = await agentAt(s, join(dir, 'agent.sock'));
    agent.setFault('FetchX509SVID', { code: status.INVALID_ARGUMENT, message: 'bad request (test fault)' });
    counts.faults++;
    const h = startHelper(s, agent.address);
    const r = await h.run.result;
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /the agent rejected the request as invalid: bad request \(test fault\)/);
    assert.equal(agent.calls.filter((c) => c.method === 'FetchX509SVID').length, 1);
  });

  test('one-shot against a stream that stalls: exits 4 at --timeout, writes nothing', async () => {
    const s = scope('sht-');
    const dir = s.dir;
    const fake = await FakeAgent.start(s, join(dir, 'agent.sock'), 'stall');
    counts.faults++;
    const h = Helper.start(writeConfig(dir, `unix://${fake.socketPath}`), ['--once', '--timeout', '1500ms']);
    const r = await h.run.result;
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /no valid X\.509-SVID within 1500ms: the agent sent nothing/);
    assert.ok(r.ms >= 1500 && r.ms < 6000, `exited after ${Math.round(r.ms)} ms`);
    assert.equal(fake.calls.length, 1, 'one call, held open until the deadline');
    assert.deepEqual(existsSync(certsOf(dir)) ? snapshot(certsOf(dir)).size : 0, 0, 'nothing written');
  });

  test('daemon on a stalled stream past the SVID expiry: keeps running and the files; /ready turns 503, /live stays 200', async () => {
    const s = scope('shx-');
    const dir = s.dir;
    const sock = join(dir, 'agent.sock');
    const a1 = await agentAt(s, sock, 3);
    const port = await freePort();
    const h = startHelper(s, a1.address, healthConf(port));
    // Any set: with a 3 s TTL the agent may rotate again before a loaded machine starts the helper.
    await h.waitFor('the first write', 0, isWritten);
    await a1.close();
    const fake = await FakeAgent.start(s, sock, 'stall');
    counts.faults++;
    await waitFor('the helper to open a stream on the stalling agent', () => fake.stalled === 1, 10_000);
    const before = snapshot(certsOf(dir));
    const url = `http://127.0.0.1:${port}`;
    await waitFor('/ready to turn 503 once the SVID on disk expires', async () => (await httpStatus(`${url}/ready`)) === 503, 10_000);
    assert.equal(await httpStatus(`${url}/live`), 200, 'live: nothing failed, the agent is just silent');
    assert.equal(fake.calls.length, 1, 'a stalled stream is waited on, not hammered');
    unchanged(before, certsOf(dir), 'during the stall');
    assert.ok(h.alive);
    // The stall ends (agent restarted): the helper reconnects to a real agent and is ready again.
    await fake.close();
    const a2 = await agentAt(s, sock);
    await waitSerial(h, dir, currentSerial(a2), 31_000);
    await waitFor('/ready back to 200', async () => (await httpStatus(`${url}/ready`)) === 200, 5000);
  });

  test('a message over the 32 MiB limit: a refused update (too_large, counted in /metrics), the stream goes on, files kept; the next rotation lands', async () => {
    const s = scope('shz-');
    const dir = s.dir;
    const agent = await agentAt(s, join(dir, 'agent.sock'));
    const port = await freePort();
    const h = startHelper(s, agent.address, `${healthConf(port)}metrics_enabled = true\n`);
    await waitSerial(h, dir, currentSerial(agent));
    const before = snapshot(certsOf(dir));
    const m = h.mark();
    // The current state plus 33 MiB of CRL bytes (a field the helper does not use): it becomes
    // the agent's state, so a helper that reconnected would be sent it again.
    agent.pushX509({ ...agent.current()!, crl: [Buffer.alloc(33 * 1024 * 1024, 0x30)] });
    counts.faults++;
    const refused = await h.waitFor('the refusal', m, isRejected);
    assert.equal(refused.reason, 'too_large');
    assert.match(String(refused.error), /x509svid: the agent sent a message of \d+ bytes, more than the limit of 33554432 bytes/);
    const metrics = await waitFor('the refusal counted', async () => {
      const t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return /^spiffe_helper_refused_updates_total\{reason="too_large"\} 1$/m.test(t) ? t : undefined;
    });
    assert.ok(metrics);
    unchanged(before, certsOf(dir), 'after the oversized message');
    await agent.rotate();
    await waitSerial(h, dir, currentSerial(agent));
    assert.equal(h.lines(m).filter(isRetry).length, 0, 'the stream was never interrupted');
    assert.equal(h.lines(m).filter(isRejected).length, 1);
  });

  test('streams that end cleanly without a message: reconnects with growing backoff, files kept', async () => {
    const { s, dir, sock, a1, h } = await runningScene('she-');
    const before = snapshot(certsOf(dir));
    const stalled = await (async () => {
      await a1.close();
      return FakeAgent.start(s, sock, 'stall');
    })();
    // Settled: one stalled stream and no other call for 500 ms (a loaded run once saw a second
    // call land just after the first, which the gaps below would then count from t0).
    await waitFor(
      'one stalled stream on the fake agent, settled',
      async () => {
        const n = stalled.calls.length;
        await delay(500);
        return stalled.stalled === 1 && stalled.calls.length === n;
      },
      15_000,
    );
    const m = h.mark();
    const t0 = Date.now();
    stalled.setMode('end'); // every new stream ends at once...
    stalled.endStalled(); // ...and so does the open one: status OK, no message
    counts.faults++;
    await delay(3200);
    const retries = h.lines(m).filter(isRetry);
    assert.match(String(retries[0]!.reason), /the agent closed the stream/);
    // The stalled stream delivered nothing, so the backoff goes on from where it was.
    const k0 = assertBackoffSequence(
      retries.map((l) => Number(l.retry_in_ms)),
      'clean end',
    );
    const during = stalled.calls.filter((t) => t >= t0);
    const gaps = assertCallGaps(during, t0, 'clean end', k0);
    assert.ok(during.length >= 1 && during.length <= 5, `calls in 3.2 s: ${during.length} (gaps ${gaps})`);
    t_diag(`clean end without a message: backoff resumed at step ${k0}, gaps ${gaps.join(',')} ms`);
    unchanged(before, certsOf(dir), 'after clean ends');
    assert.ok(h.alive);
  });

  test('streams that send the same state then end: the reconnection delays grow (a message alone does not reset the backoff), nothing rewritten', async () => {
    const { s, dir, sock, a1, h } = await runningScene('shn-');
    const state = a1.current()!;
    const before = snapshot(certsOf(dir));
    await a1.close();
    const m = h.mark();
    const fake = await FakeAgent.start(s, sock, 'send-then-end', state);
    counts.faults++;
    await waitFor('the fake agent to be called', () => fake.calls.length >= 1, 10_000);
    const t0 = fake.calls[0]!;
    await delay(3000);
    const n = fake.calls.filter((t) => t >= t0 && t < t0 + 3000).length;
    // Before: each message reset the backoff, so every reconnect waited [100, 200] ms, 20 in 3 s,
    // for ever. Now the k-th waits within [d/2, d], d = 200 ms * 2^k: each gap at least the one before.
    assert.ok(n >= 2 && n <= 8, `calls in 3 s: ${n}`);
    const gaps = fake.calls.slice(1).map((t, i) => t - fake.calls[i]!);
    assert.ok(Math.min(...gaps) >= 85, `never faster than the initial backoff floor: min gap ${Math.min(...gaps)} ms`);
    assert.ok(
      gaps.every((g, i) => i === 0 || g >= gaps[i - 1]! - 50),
      `each gap at least the one before: ${gaps.join(',')} ms`,
    );
    assert.equal(h.lines(m).filter(isWritten).length, 0, 'the same state is never rewritten');
    assert.equal(h.lines(m).filter(isRejected).length, 0);
    unchanged(before, certsOf(dir), 'after repeated identical states');
    t_diag(`send-then-end: ${n} reconnects in 3 s, gaps ${gaps.join(',')} ms, 0 rewrites`);
  });

  test('a flood of 1000 identical updates: no rewrite, no signal; the next real rotation lands once they are drained', async () => {
    const s = scope('shd-');
    const dir = s.dir;
    const agent = await agentAt(s, join(dir, 'agent.sock'));
    const script = `echo up > ${dir}/up; trap 'echo hup >> ${dir}/hup.log' HUP; while :; do sleep 0.05; done`;
    const h = startHelper(s, agent.address, `log_level = "debug"\ncmd = "sh"\ncmd_args = ["-c", ${JSON.stringify(script)}]\nrenew_signal = "SIGHUP"\n`);
    const FLOOD = 1000;
    await waitFor('the child to start', () => existsSync(join(dir, 'up')));
    // The first write's log line may reach us after the child is up: mark after it.
    await h.waitFor('the first write', 0, isWritten);
    const before = snapshot(certsOf(dir));
    const m = h.mark();
    const state = agent.current()!;
    for (let i = 0; i < FLOOD; i++) agent.pushX509(state);
    counts.faults++;
    await delay(500);
    assert.ok(h.alive);
    unchanged(before, certsOf(dir), `during ${FLOOD} identical updates`);
    assert.ok(!existsSync(join(dir, 'hup.log')), 'no SIGHUP for identical updates');
    const t = Date.now();
    await agent.rotate();
    await waitSerial(h, dir, currentSerial(agent), 5000);
    await waitFor('exactly one SIGHUP', () => existsSync(join(dir, 'hup.log')));
    const landed = Date.now() - t;
    await delay(300);
    assert.equal(readFileSync(join(dir, 'hup.log'), 'utf8').trim().split('\n').length, 1, 'one SIGHUP: for the rotation');
    assert.equal(h.lines(m).filter(isWritten).length, 1, 'one write: the rotation; none for the identical updates');
    // Identical messages that come back to back are coalesced (update_quiet_period): few or none
    // reach the comparison with the files on disk, and the rotation supersedes what waits.
    const unchangedSeen = h.lines(m).filter((l) => l.msg === 'x509 update unchanged; nothing written').length;
    // Each identical message is still parsed and validated (~1.5 ms here).
    assert.ok(landed < FLOOD * 8, `the real rotation landed ${landed} ms after the flood`);
    t_diag(`flood: ${FLOOD} identical updates (${unchangedSeen} compared with the files on disk), 0 rewrites, 0 signals, rotation landed ${landed} ms after`);
  });
});

/**
 * node:http2 (nghttp2, a real peer) in front of the dev agent, announcing SETTINGS_MAX_CONCURRENT_STREAMS
 * `limit` and refusing streams over it with REFUSED_STREAM, as gRPC-Go servers do. Each stream is
 * relayed to the agent on a stream of its own: headers, data, trailers, and a cancel.
 */
async function streamLimitProxy(s: Scope, socketPath: string, agentSocket: string, limit: number): Promise<string> {
  const upstream = h2connect('http://localhost', { createConnection: () => netConnect(agentSocket) });
  upstream.on('error', () => undefined);
  const server = h2server({ settings: { maxConcurrentStreams: limit } });
  server.on('stream', (down, headers: IncomingHttpHeaders) => {
    const forward: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(headers)) if (k !== ':scheme' && k !== ':authority') forward[k] = v;
    const up = upstream.request(forward);
    let trailers: OutgoingHttpHeaders = {};
    down.pipe(up);
    up.on('response', (h) => down.respond(h, { waitForTrailers: true }));
    up.on('trailers', (t) => void (trailers = t));
    up.on('data', (d: Buffer) => down.write(d));
    up.on('end', () => down.end());
    down.on('wantTrailers', () => down.sendTrailers(trailers));
    down.on('close', () => up.close(h2.NGHTTP2_CANCEL));
    up.on('error', () => down.close(h2.NGHTTP2_INTERNAL_ERROR));
    down.on('error', () => undefined);
  });
  server.listen(socketPath);
  await once(server, 'listening');
  s.defer(async () => {
    server.close();
    upstream.close();
  });
  return `unix://${socketPath}`;
}

describe('an agent allowing fewer concurrent streams than the helper opens', () => {
  // X.509 watch + JWT bundle watch (both never end) + JWT-SVID fetches. Before: the calls over
  // the limit failed (REFUSED_STREAM, or at once once the limit was known) and were retried
  // with backoff for ever; with 1 stream the JWT files never came.
  for (const limit of [1, 2]) {
    test(`SETTINGS_MAX_CONCURRENT_STREAMS ${limit}: X.509 files, JWT bundle and JWT-SVID are all written, with no retry`, async () => {
      const s = scope('shl-');
      const dir = s.dir;
      const agent = await agentAt(s, join(dir, 'agent.sock'));
      const address = await streamLimitProxy(s, join(dir, 'proxy.sock'), agent.socketPath, limit);
      const h = startHelper(s, address, 'jwt_bundle_file_name = "jwt_bundle.json"\njwt_svids = [{ jwt_audience = "api", jwt_svid_file_name = "api.jwt" }]\n');
      counts.faults++;
      await waitSerial(h, dir, currentSerial(agent));
      await waitFor('the JWT bundle and the JWT-SVID', () => ['jwt_bundle.json', 'api.jwt'].every((f) => existsSync(join(certsOf(dir), f))));
      assert.equal(h.lines(0).filter(isRetry).length, 0, 'no stream was interrupted');
      assert.ok(h.alive);
    });
  }
});

function t_diag(line: string): void {
  console.log(`# ${line}`);
}
