/**
 * The fields of a response header block as the peer named them: the lowercase names a plain
 * object inherits (`constructor`, `__proto__`) are fields like any other.
 * Before, `constructor: x` came out as "function Object() { [native code] }, x" and a
 * `__proto__` field was lost.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { responseFields } from '../../../src/workload/http2/fields.js';

for (const name of ['constructor', '__proto__']) {
  test(`a response field named ${name} is kept as sent, and joined when repeated`, () => {
    const once = responseFields(
      [
        [':status', '200'],
        [name, 'x'],
      ],
      false,
    );
    assert.ok('headers' in once);
    assert.ok(Object.hasOwn(once.headers, name), `${name} is an own field`);
    assert.equal(once.headers[name], 'x');
    const twice = responseFields(
      [
        [':status', '200'],
        [name, 'x'],
        [name, 'y'],
      ],
      false,
    );
    assert.ok('headers' in twice);
    assert.equal(twice.headers[name], 'x, y');
    assert.equal(Object.getPrototypeOf(twice.headers), Object.prototype, 'the prototype is untouched');
  });
}

test('a repeated :status is still refused', () => {
  assert.deepEqual(
    responseFields(
      [
        [':status', '200'],
        [':status', '200'],
      ],
      false,
    ),
    { malformed: 'malformed response headers: pseudo-header :status appears twice' },
  );
});
