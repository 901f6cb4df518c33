/**
 * One log line stays one record for a container runtime: Docker's json-file driver and CRI
 * runtimes split a line longer than 16 KiB into several, which collectors read as separate
 * events. Long values are cut, after redaction, on a UTF-8 character boundary, with how many
 * bytes went (src/log.ts). An agent's error message can be close to 64 KB.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger, type Fields, type LogFormat } from '../src/log.js';

/** Docker's copier reads 16 KiB, newline included, to find the end of a line. */
const RECORD_BYTES = 16 * 1024;
const CUT = /…\[cut (\d+) bytes\]/g;

function line(format: LogFormat, msg: string, fields?: Fields): string {
  const out: string[] = [];
  createLogger({ format, write: (l) => out.push(l) }).error(msg, fields);
  assert.equal(out.length, 1);
  return out[0]!;
}

/** The values as the line holds them: from JSON, or the text format's message and quoted values. */
function values(format: LogFormat, l: string): { msg: string; fields: Record<string, unknown> } {
  if (format === 'json') {
    const { time, level, msg, ...fields } = JSON.parse(l) as Record<string, unknown>;
    assert.ok(time && level);
    return { msg: msg as string, fields };
  }
  const m = /^\S+ ERROR (.*?)((?: [a-z_]+=(?:"(?:[^"\\]|\\.)*"|\S+))*)$/.exec(l);
  assert.ok(m, l.slice(0, 200));
  const fields: Record<string, unknown> = {};
  for (const [, k, v] of m[2]!.matchAll(/ ([a-z_]+)=("(?:[^"\\]|\\.)*"|\S+)/g)) fields[k!] = v!.startsWith('"') ? JSON.parse(v!) : v;
  return { msg: m[1]!, fields };
}

/** `got` is `original` cut: a prefix of it, then the marker counting exactly the UTF-8 bytes left out. */
function assertCut(got: string, original: string): void {
  const m = /^([\s\S]*)…\[cut (\d+) bytes\]$/.exec(got);
  assert.ok(m, `not cut: ${got.slice(-60)}`);
  const kept = m[1]!;
  assert.ok(original.startsWith(kept), 'the kept part is the start of the value, whole characters only');
  assert.equal(Number(m[2]), Buffer.byteLength(original) - Buffer.byteLength(kept));
  assert.ok(Buffer.byteLength(kept) > 4096, `kept ${Buffer.byteLength(kept)} bytes: a cut keeps what fits, not a token amount`);
}

function assertBounded(l: string): void {
  assert.ok(Buffer.byteLength(`${l}\n`) <= RECORD_BYTES, `${Buffer.byteLength(l)} bytes`);
  assert.ok(!l.includes('\ufffd'), 'no character split into replacement characters');
}

// Each width of UTF-8 character, so that a cut falls inside one unless it is made on a boundary.
const texts: [name: string, text: string][] = [
  ['ASCII', `agent error: ${'x'.repeat(64 * 1024)}`],
  ['2-byte characters', `agent error: ${'é'.repeat(32 * 1024)}`],
  ['3-byte characters', `agent error: ${'€'.repeat(22 * 1024)}`],
  ['4-byte characters (surrogate pairs)', `agent error: ${'😀'.repeat(16 * 1024)}`],
];

for (const format of ['text', 'json'] as const) {
  for (const [name, text] of texts) {
    test(`log ${format}: a 64 KB message of ${name} is cut to one line under 16 KiB, saying how many bytes were cut`, () => {
      const l = line(format, text, { attempt: 3, trust_domain: 'example.org' });
      assertBounded(l);
      const v = values(format, l);
      assertCut(v.msg, text);
      assert.deepEqual(v.fields, format === 'json' ? { attempt: 3, trust_domain: 'example.org' } : { attempt: '3', trust_domain: 'example.org' });
    });

    test(`log ${format}: a 64 KB field of ${name} is cut to one line under 16 KiB, the message kept`, () => {
      const l = line(format, 'fetching X.509 SVIDs failed', { error: text, attempt: 3 });
      assertBounded(l);
      const v = values(format, l);
      assert.equal(v.msg, 'fetching X.509 SVIDs failed');
      assertCut(v.fields['error'] as string, text);
    });
  }

  test(`log ${format}: a 64 KB message and two 64 KB fields share the line; each is cut and says so`, () => {
    const [msg, a, b] = ['m', 'a', 'b'].map((c) => c.repeat(64 * 1024)) as [string, string, string];
    const l = line(format, msg, { error: a, detail: b, attempt: 1 });
    assertBounded(l);
    const v = values(format, l);
    assert.equal([...l.matchAll(CUT)].length, 3);
    for (const [got, original] of [
      [v.msg, msg],
      [v.fields['error'], a],
      [v.fields['detail'], b],
    ] as [string, string][]) {
      const m = /^([\s\S]*)…\[cut (\d+) bytes\]$/.exec(got)!;
      assert.ok(original.startsWith(m[1]!));
      assert.equal(Number(m[2]), original.length - m[1]!.length);
    }
  });

  test(`log ${format}: a 64 KB field of control characters (escaped six bytes each) still makes a line under 16 KiB`, () => {
    const l = line(format, 'agent said', { error: '\u0001'.repeat(64 * 1024) });
    assertBounded(l);
    assert.match(l, /…\[cut \d+ bytes\]/);
  });

  test(`log ${format}: a token across the cut is redacted first, then the value cut: no part of it is left`, () => {
    const b64url = (s: string): string => Buffer.from(s).toString('base64url');
    const token = `${b64url('{"alg":"ES256","kid":"k1","typ":"JWT"}')}.${b64url('{"sub":"spiffe://example.org/w","aud":["api"]}')}.${'s'.repeat(86)}`;
    // Wherever the cut falls, a value cut before redaction would keep the token's head, which
    // alone (no dots) no longer looks like a token.
    for (let at = 15_800; at <= 16_400; at += 40) {
      const text = `${'x'.repeat(at)} ${token} ${'y'.repeat(48 * 1024)}`;
      for (const l of [line(format, text), line(format, 'failed', { error: text })]) {
        assertBounded(l);
        assert.ok(!l.includes(token.slice(0, 12)), `part of the token left at ${at}`);
      }
    }
  });

  test(`log ${format}: a line within the bound is written whole`, () => {
    const text = 'y'.repeat(15_000);
    const l = line(format, 'agent said', { error: text });
    assert.ok(l.includes(text));
    assert.doesNotMatch(l, CUT);
  });
}
