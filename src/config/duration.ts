/**
 * Durations as people write them on command lines: `500ms`, `30s`, `2m`, `1h`, `1m30s`,
 * or a bare number of seconds. Returns milliseconds; throws an Error whose message names
 * the accepted forms (callers add the flag or key name). Every duration ends up as a timer,
 * so one longer than a timer can hold (~24.8 days) is refused here rather than waited
 * for wrongly somewhere else.
 */
import { MAX_TIMER_MS } from '../timer.js';

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(text: string): number {
  const ms = Math.round(sumOfParts(text));
  if (!(ms <= MAX_TIMER_MS)) throw new Error(`${JSON.stringify(text)} is too long: the longest duration is ${MAX_TIMER_MS} ms (596h31m23s, about 24.8 days)`);
  return ms;
}

function sumOfParts(text: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    total += Number(m[1]) * units[m[2]!]!;
    matched = re.lastIndex;
  }
  if (t === '' || matched !== t.length) {
    throw new Error(`${JSON.stringify(text)} is not a duration (examples: 500ms, 30s, 2m, 1h, or a number of seconds)`);
  }
  return total;
}

export function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
