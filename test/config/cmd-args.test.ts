import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitCmdArgs } from '../../src/config/cmd-args.js';
import { vectors } from '../helpers/vectors.js';

for (const v of vectors.cmd_args_string_form) {
  test(`cmd_args ${JSON.stringify(v.in)}${v.note ? ` (${v.note})` : ''}`, () => {
    if (v.error) assert.throws(() => splitCmdArgs(v.in), new RegExp(v.error));
    else assert.deepEqual(splitCmdArgs(v.in), v.args);
  });
}

test('runs of spaces separate arguments once', () => {
  assert.deepEqual(splitCmdArgs('  -a   b '), ['-a', 'b']);
});
