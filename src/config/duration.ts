/**
 * Durations as people write them on command lines: Go's time.ParseDuration forms (`500ms`,
 * `30s`, `1m30s`, `1.5h`, `.5s`, `250us`, `1µs`, `10ns`), or a bare number of seconds.
 * Returns whole milliseconds, rounded up: a duration is never waited for less than asked, and
 * one above zero never becomes 0 (which several keys read as "at once"). Computed exactly, in
 * decimal: `1.1s` is 1100 ms, not 1101 from 1.1 * 1000 in floating point. Throws an Error whose
 * message names the accepted forms (callers add the flag or key name). Every duration ends up
 * as a timer, so one longer than a timer can hold (~24.8 days) is refused here rather than
 * waited for wrongly somewhere else.
 */
import { MAX_TIMER_MS } from '../timer.js';

/** Nanoseconds per unit. */
const units: Record<string, bigint> = { ns: 1n, us: 1000n, µs: 1000n, μs: 1000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n };

const NS_PER_MS = 1_000_000n;

export function parseDuration(text: string): number {
  const ns = nanoseconds(text);
  const ms = (ns.num + ns.den * NS_PER_MS - 1n) / (ns.den * NS_PER_MS);
  if (ms > BigInt(MAX_TIMER_MS)) throw new Error(`${JSON.stringify(text)} is too long: the longest duration is ${MAX_TIMER_MS} ms (596h31m23s, about 24.8 days)`);
  return Number(ms);
}

/** A wait that 0 would turn into "give up at once" (`--timeout 0`): refused, naming the default. */
export function parsePositiveDuration(text: string): number {
  const ms = parseDuration(text);
  if (ms === 0) throw new Error(`${JSON.stringify(text)} is zero: give a duration above 0, or leave the flag out for its default`);
  return ms;
}

/** A decimal number of nanoseconds as num / den, den a power of ten. */
interface Exact {
  num: bigint;
  den: bigint;
}

function nanoseconds(text: string): Exact {
  const t = text.trim().replace(/^\+/, '');
  if (t.startsWith('-')) throw new Error(`${JSON.stringify(text)} is negative: a duration is 0 or more`);
  const bare = /^(\d+(?:\.\d*)?|\.\d+)$/.exec(t);
  if (bare) return scaled(bare[1]!, units.s!);
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
  let total: Exact = { num: 0n, den: 1n };
  let matched = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    total = add(total, scaled(m[1]!, units[m[2]!]!));
    matched = re.lastIndex;
  }
  if (t === '' || matched !== t.length) {
    throw new Error(`${JSON.stringify(text)} is not a duration (examples: 500ms, 30s, 2m, 1h30m, 1.5h, or a number of seconds)`);
  }
  return total;
}

/** `digits` (`12`, `1.25`, `.5`, `3.`) times `perUnit`, exactly. */
function scaled(digits: string, perUnit: bigint): Exact {
  const [whole = '', fraction = ''] = digits.split('.');
  const den = 10n ** BigInt(fraction.length);
  return { num: BigInt(`${whole}${fraction}` || '0') * perUnit, den };
}

function add(a: Exact, b: Exact): Exact {
  return a.den >= b.den ? { num: a.num + b.num * (a.den / b.den), den: a.den } : { num: a.num * (b.den / a.den) + b.num, den: b.den };
}

export function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
