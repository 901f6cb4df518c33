import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration } from '../../src/config/duration.js';
import { parseConfig } from '../../src/config/load.js';
import { MAX_TIMER_MS, sleep } from '../../src/timer.js';
import { baseConfigToml } from '../helpers/config.js';
import { delay } from '../helpers/wait.js';

/**
 * Durations a Node timer cannot hold (over 2^31-1 ms, ~24.8 days) are refused where they are
 * read: Node would fire such a timer after 1 ms (a 1000h cmd_stop_grace_period SIGKILLed the
 * program after 36 ms). Delays the helper computes go through timers that chain instead.
 */
const accepted: [string, string, number][] = [
  ['milliseconds', '500ms', 500],
  ['seconds', '30s', 30_000],
  ['minutes and seconds', '1m30s', 90_000],
  ['a bare number of seconds', '2.5', 2500],
  ['the longest, in h/m/s/ms', '596h31m23s647ms', MAX_TIMER_MS],
  ['the longest, in seconds', '2147483.647', MAX_TIMER_MS],
];

for (const [name, text, ms] of accepted) {
  test(`duration accepted: ${name} (${text})`, () => assert.equal(parseDuration(text), ms));
}

const refused: [string, string][] = [
  ['1000h', '1000h'],
  ['one ms over the timer limit', '596h31m23s648ms'],
  ['a bare number of seconds over the limit', '2147484'],
  ['25 days in hours', '600h'],
  ['digits enough to overflow to Infinity', '9'.repeat(400) + 'h'],
];

for (const [name, text] of refused) {
  test(`duration refused as too long: ${name}`, () => {
    assert.throws(() => parseDuration(text), /is too long: the longest duration is 2147483647 ms \(596h31m23s, about 24\.8 days\)/);
  });
}

test('config error names the key: cmd_stop_grace_period = "1000h"', () => {
  assert.throws(() => parseConfig(`${baseConfigToml}cmd = "x"\nrenew_signal = "SIGHUP"\ncmd_stop_grace_period = "1000h"\n`, 'helper.conf', {}), /cmd_stop_grace_period: "1000h" is too long/);
});

test('config error names the variable: SPIFFE_HELPER_CMD_STOP_GRACE_PERIOD=1000h', () => {
  assert.throws(
    () => parseConfig(`${baseConfigToml}cmd = "x"\nrenew_signal = "SIGHUP"\n`, 'helper.conf', { SPIFFE_HELPER_CMD_STOP_GRACE_PERIOD: '1000h' }),
    /CMD_STOP_GRACE_PERIOD.*"1000h" is too long/i,
  );
});

test('sleep: a delay over 2^31-1 ms does not resolve early; aborting rejects with the reason', async () => {
  const stop = new AbortController();
  let settled = false;
  const slept = sleep(MAX_TIMER_MS * 3, stop.signal).finally(() => (settled = true));
  await delay(200);
  assert.equal(settled, false);
  stop.abort(new Error('stopped'));
  await assert.rejects(slept, /stopped/);
});

test('sleep: resolves after a short delay, at once for 0 and for negative delays', async () => {
  const started = performance.now();
  await sleep(50);
  assert.ok(performance.now() - started >= 49, 'not early');
  await sleep(0);
  await sleep(-5);
});

test('sleep: an already aborted signal rejects at once', async () => {
  await assert.rejects(sleep(10, AbortSignal.abort(new Error('already'))), /already/);
});
