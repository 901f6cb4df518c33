import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeError, HelperError } from '../src/errors.js';

/**
 * describeError turns any thrown value into the one line a log, `last_error` or the crash
 * handler prints: it must return for every value (a throw there loses the original error, in
 * the crash handler too) and keep what the value says.
 */
const cyclic = new Error('stream broke');
(cyclic as { cause?: unknown }).cause = cyclic;
const a = new Error('a failed');
const b = new Error('b failed', { cause: a });
(a as { cause?: unknown }).cause = b;
let deep: Error = new Error('root cause');
for (let i = 0; i < 100_000; i++) deep = new Error(`layer ${i}`, { cause: deep });
const nullProto = Object.assign(Object.create(null) as object, { code: 14 });
const wrapped = new Error('ECONNREFUSED /run/agent.sock');

const cases: { name: string; value: unknown; says: RegExp; notSays?: RegExp; maxLength?: number }[] = [
  { name: 'an error that is its own cause', value: cyclic, says: /^stream broke$/ },
  { name: 'two errors each the cause of the other', value: b, says: /^b failed: a failed$/ },
  { name: 'a cause chain 100,000 deep', value: deep, says: /^layer 99999: layer 99998: /, maxLength: 1_000 },
  { name: 'an object without a prototype', value: nullProto, says: /\[object Object\]/ },
  {
    name: 'a value whose toString throws',
    value: {
      toString() {
        throw new Error('no');
      },
    },
    says: /\[object Object\]/,
  },
  { name: 'a plain object with a message (a gRPC status object)', value: { code: 14, details: 'x', message: '14 UNAVAILABLE: connect failed' }, says: /^14 UNAVAILABLE: connect failed$/ },
  {
    name: "an AggregateError without a message (Node's connect to every address of a name)",
    value: new AggregateError([new Error('connect ECONNREFUSED ::1:8081'), new Error('connect ECONNREFUSED 127.0.0.1:8081')], ''),
    says: /^connect ECONNREFUSED ::1:8081; connect ECONNREFUSED 127\.0\.0\.1:8081$/,
  },
  {
    name: 'a wrapper whose message already quotes its cause',
    value: new HelperError('internal', `FetchX509SVID: ${wrapped.message}`, { cause: wrapped }),
    says: /^FetchX509SVID: ECONNREFUSED \/run\/agent\.sock$/,
  },
  { name: 'a cause that adds something', value: new Error('write failed', { cause: new Error('ENOSPC') }), says: /^write failed: ENOSPC$/ },
];

for (const c of cases) {
  test(`describeError: ${c.name}`, () => {
    const text = describeError(c.value);
    assert.match(text, c.says);
    if (c.maxLength !== undefined) assert.ok(text.length <= c.maxLength, `${text.length} characters`);
  });
}
