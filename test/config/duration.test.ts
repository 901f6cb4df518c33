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
  // Go's time.ParseDuration forms (before: refused as not a duration).
  ['Go: microseconds, rounded up to 1 ms', '1us', 1],
  ['Go: microseconds with the micro sign', '1µs', 1],
  ['Go: microseconds with the Greek mu', '1μs', 1],
  ['Go: nanoseconds, rounded up to 1 ms', '1ns', 1],
  ['Go: a fraction without a leading digit', '.5s', 500],
  ['Go: a trailing decimal point', '1.s', 1000],
  ['Go: hours with a fraction', '1.5h', 5_400_000],
  ['Go: a plus sign', '+5s', 5000],
  ['Go: mixed units, small to large', '1h30m10s250ms500us', 5_410_251],
  // Rounded up, never down (before: 0.4ms was 0, "at once"; 1.4ms was 1 ms, early).
  ['a fraction of a millisecond is 1 ms, not 0', '0.4ms', 1],
  ['1.4ms waits 2 ms, never less than asked', '1.4ms', 2],
  ['a bare number of seconds with 4 decimals', '0.0001', 1],
  ['decimal exactly: 1.1s is 1100 ms', '1.1s', 1100],
  ['decimal exactly: 2.3s is 2300 ms', '2.3s', 2300],
  ['whitespace around', ' \t30s\n', 30_000],
  ['zero', '0', 0],
  ['zero seconds', '0s', 0],
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
  ["Go's largest duration", '2562047h47m16.854775807s'],
  ['a millionth of a millisecond over the limit', '596h31m23s647.000001ms'],
  ['ten billion hours', '9999999999h'],
];

for (const [name, text] of refused) {
  test(`duration refused as too long: ${name}`, () => {
    assert.throws(() => parseDuration(text), /is too long: the longest duration is 2147483647 ms \(596h31m23s, about 24\.8 days\)/);
  });
}

const malformed: [string, string, RegExp][] = [
  ['negative', '-1s', /"-1s" is negative: a duration is 0 or more/],
  ['an exponent', '1e3s', /not a duration/],
  ['NaN', 'NaN', /not a duration/],
  ['Infinity', 'Infinity', /not a duration/],
  ['a space between number and unit', '5 s', /not a duration/],
  ['an upper-case unit', '5S', /not a duration/],
  ['a unit alone', 's', /not a duration/],
  ['a point alone', '.s', /not a duration/],
  ['a negative part', '1h-1m', /not a duration/],
  ['hex', '0x10', /not a duration/],
  ['empty', '', /not a duration/],
];

for (const [name, text, message] of malformed) {
  test(`duration refused: ${name} (${JSON.stringify(text)})`, () => assert.throws(() => parseDuration(text), message));
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
