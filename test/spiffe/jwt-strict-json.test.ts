/** The JSON reading of JWT headers, claims and JWKS (src/spiffe/strict-json.ts): one meaning or a refusal. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ambiguities, parseStrictJson } from '../../src/spiffe/strict-json.js';

type Case = [name: string, json: string, found: { path: (string | number)[]; problem: RegExp }[]];
const cases: Case[] = [
  ['no duplicates, the same names in sibling objects', '{"a":{"x":1},"b":{"x":1,"a":2},"c":[{"x":1},{"x":1}]}', []],
  ['the empty name twice', '{"":1,"":2}', [{ path: [''], problem: /member "" twice/ }]],
  ['the empty name twice, another between', '{"":1,"a":2,"":3}', [{ path: [''], problem: /member "" twice/ }]],
  ['a name twice as the third member', '{"a":1,"b":2,"a":3}', [{ path: ['a'], problem: /member "a" twice/ }]],
  ['names that are equal once unescaped', '{"kid":1,"k\\u0069d":2}', [{ path: ['kid'], problem: /member "kid" twice/ }]],
  ['a duplicate deep in an array of objects', '{"keys":[{"x":1},{"x":1,"y":[1,{"z":1,"z":2}]}]}', [{ path: ['keys', 1, 'y', 1, 'z'], problem: /member "z" twice/ }]],
  ['a string that only looks like a name', '{"a":"\\"a\\":1","b":["a","a"]}', []],
  ['a lone high surrogate in a value', '{"a":["\\ud800"]}', [{ path: ['a', 0], problem: /lone UTF-16 surrogate/ }]],
  ['a lone low surrogate in a name', '{"\\udc00":1}', [{ path: ['\udc00'], problem: /lone UTF-16 surrogate/ }]],
  ['a surrogate pair', '{"a":"\\ud83d\\ude00"}', []],
];
for (const [name, json, found] of cases) {
  test(`strict JSON: ${name}`, () => {
    JSON.parse(json);
    const got = ambiguities(json);
    assert.deepEqual(
      got.map((a) => a.path),
      found.map((f) => f.path),
    );
    got.forEach((a, i) => assert.match(a.problem, found[i]!.problem));
  });
}

test('strict JSON: bytes that are not UTF-8, a byte order mark, and text that is not JSON are each named', () => {
  assert.deepEqual(parseStrictJson(Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d])), { problem: 'is not UTF-8' });
  assert.deepEqual(parseStrictJson(Buffer.from('\ufeff{}')), { problem: 'is not JSON' });
  assert.deepEqual(parseStrictJson(Buffer.from('{"a":1')), { problem: 'is not JSON' });
  assert.deepEqual(parseStrictJson(Buffer.from('{"a":"é"}')), { value: { a: 'é' } });
});
