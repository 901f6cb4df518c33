import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UpdateScheduler, type UpdateSchedulerOptions } from '../src/update-scheduler.js';
import { delay, waitFor } from './helpers/wait.js';

/**
 * The scheduler against an apply function that records what it was given and fails on demand.
 * Assertions are about which states were written, in which order, and never-before bounds.
 */
interface Recorder {
  scheduler: UpdateScheduler<string>;
  applied: { state: string; at: number }[];
  failures: number[];
  /** States whose next apply fails (each entry used once). */
  failNext: string[];
}

function recorder(options: Partial<UpdateSchedulerOptions<string>> & { notifies?: boolean } = {}): Recorder {
  const applied: Recorder['applied'] = [];
  const failures: number[] = [];
  const failNext: string[] = [];
  const scheduler = new UpdateScheduler<string>({
    quietMs: 30,
    settleMs: 0,
    // Deterministic backoff: each delay is the full d (random() = 1).
    retry: { initialMs: 40, maxMs: 160, random: () => 1 },
    apply: async (state) => {
      applied.push({ state, at: Date.now() });
      const i = failNext.indexOf(state);
      if (i !== -1) {
        failNext.splice(i, 1);
        throw new Error(`disk full writing ${state}`);
      }
      return options.notifies ?? false;
    },
    onFailure: (_e, retryInMs) => failures.push(retryInMs),
    ...options,
  });
  return { scheduler, applied, failures, failNext };
}

const states = (r: Recorder) => r.applied.map((a) => a.state);

test('the first update is written without waiting for the quiet period', async () => {
  const r = recorder({ quietMs: 5_000 });
  r.scheduler.offer('a');
  await waitFor('the first write', () => r.applied.length === 1, 2_000, 5);
  await r.scheduler.stop();
});

test('a burst of updates 1 ms apart after the first write is written once, with the latest state', async () => {
  const r = recorder();
  r.scheduler.offer('first');
  await waitFor('the first write', () => r.applied.length === 1);
  r.scheduler.offer('bundle change');
  await delay(1);
  r.scheduler.offer('new svid');
  await waitFor('the burst to be written', () => r.applied.length === 2);
  await delay(100);
  assert.deepEqual(states(r), ['first', 'new svid']);
  await r.scheduler.stop();
});

test('a failed write is retried on its own, with growing backoff, until it succeeds', async () => {
  const r = recorder();
  r.failNext.push('a', 'a', 'a');
  r.scheduler.offer('a');
  await waitFor('the write to land', () => r.applied.length === 4, 5_000, 5);
  assert.deepEqual(states(r), ['a', 'a', 'a', 'a'], 'the same state, four times, with no new offer');
  assert.deepEqual(r.failures, [40, 80, 160]);
  const gaps = r.applied.slice(1).map((a, i) => a.at - r.applied[i]!.at);
  gaps.forEach((g, i) => assert.ok(g >= r.failures[i]! - 2, `retry ${i + 1} came after its backoff: ${g} ms >= ${r.failures[i]} ms`));
  await r.scheduler.stop();
});

test('the backoff starts again after a successful write', async () => {
  const r = recorder();
  r.failNext.push('a', 'b');
  r.scheduler.offer('a');
  await waitFor('a to land', () => r.applied.length === 2, 5_000, 5);
  r.scheduler.offer('b');
  await waitFor('b to land', () => r.applied.length === 4, 5_000, 5);
  assert.deepEqual(r.failures, [40, 40]);
  await r.scheduler.stop();
});

test('a newer update supersedes a failed one waiting for its retry', async () => {
  const r = recorder({ retry: { initialMs: 5_000, maxMs: 5_000, random: () => 1 } });
  r.failNext.push('old');
  r.scheduler.offer('old');
  await waitFor('the failure', () => r.failures.length === 1);
  r.scheduler.offer('new');
  await waitFor('the newer write', () => r.applied.length === 2, 2_000, 5);
  await delay(100);
  assert.deepEqual(states(r), ['old', 'new'], 'the newer state was written at once, and the old one never again');
  await r.scheduler.stop();
});

test('an update that comes while a write is under way is written after it, never alongside', async () => {
  let inFlight = 0;
  let overlap = false;
  const applied: string[] = [];
  const s = new UpdateScheduler<string>({
    quietMs: 0,
    settleMs: 0,
    apply: async (state) => {
      overlap ||= inFlight++ > 0;
      await delay(30);
      inFlight--;
      applied.push(state);
      return false;
    },
    onFailure: () => undefined,
  });
  s.offer('a');
  await delay(5);
  s.offer('b');
  s.offer('c');
  await waitFor('both writes', () => applied.length === 2);
  assert.deepEqual(applied, ['a', 'c']);
  assert.equal(overlap, false);
  await s.stop();
});

test('after a write that notified a program, the next write waits for the settle period', async () => {
  const r = recorder({ quietMs: 0, settleMs: 300, notifies: true });
  r.scheduler.offer('a');
  await waitFor('the first write', () => r.applied.length === 1);
  r.scheduler.offer('b');
  await waitFor('the second write', () => r.applied.length === 2, 2_000, 5);
  const gap = r.applied[1]!.at - r.applied[0]!.at;
  assert.ok(gap >= 299, `the files stayed unchanged ${gap} ms after the signal (settle 300 ms)`);
  await r.scheduler.stop();
});

test('stop drops what waits and resolves once the write under way has finished', async () => {
  let finished = false;
  const applied: string[] = [];
  const s = new UpdateScheduler<string>({
    quietMs: 0,
    settleMs: 0,
    apply: async (state) => {
      applied.push(state);
      await delay(50);
      finished = true;
      return false;
    },
    onFailure: () => undefined,
  });
  s.offer('a');
  await delay(5);
  s.offer('b');
  await s.stop();
  assert.equal(finished, true, 'stop waited for the write of a');
  s.offer('c');
  await delay(50);
  assert.deepEqual(applied, ['a']);
});

test('the wall clock stepping back an hour after a signal does not hold up the next write (monotonic clock)', async (t) => {
  const r = recorder({ quietMs: 0, settleMs: 100, notifies: true });
  r.scheduler.offer('a');
  await waitFor('the first write', () => r.applied.length === 1);
  // An NTP step back: Date.now() an hour earlier from now on (before: the settle period ended an hour later).
  const wall = Date.now;
  t.after(() => (Date.now = wall));
  Date.now = () => wall() - 3_600_000;
  r.scheduler.offer('b');
  await waitFor('the second write', () => r.applied.length === 2, 10_000);
  await r.scheduler.stop();
});

test('updates that never pause for the quiet period are still written while they keep coming', async () => {
  const r = recorder({ quietMs: 50 });
  r.scheduler.offer('first');
  await waitFor('the first write', () => r.applied.length === 1);
  let n = 0;
  const stream = setInterval(() => r.scheduler.offer(`update ${++n}`), 10);
  try {
    await waitFor('a write during the stream', () => r.applied.length >= 3, 10_000);
  } finally {
    clearInterval(stream);
  }
  // Each write is the newest state at its time: the numbers only grow.
  const numbers = states(r)
    .slice(1)
    .map((s) => Number(s.split(' ')[1]));
  assert.deepEqual(
    [...numbers].sort((a, b) => a - b),
    numbers,
  );
  await r.scheduler.stop();
});
