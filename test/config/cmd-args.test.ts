import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { splitCmdArgs } from '../../src/config/cmd-args.js';
import { vectors } from '../helpers/vectors.js';

for (const v of vectors.cmd_args_string_form) {
  test(`cmd_args ${JSON.stringify(v.in)}${v.note ? ` (${v.note})` : ''}`, () => {
    if (v.error) assert.throws(() => splitCmdArgs(v.in), new RegExp(v.error));
    else assert.deepEqual(splitCmdArgs(v.in), v.args);
  });
}

const cases: [string, string, string[] | RegExp][] = [
  ['doubled space gives an empty argument', '-a  b', ['-a', '', 'b']],
  ['leading space gives an empty first argument', ' -a', ['', '-a']],
  ['trailing space gives an empty last argument', '-a ', ['-a', '']],
  ['one space is two empty arguments', ' ', ['', '']],
  ['quoted empty argument', '-a "" b', ['-a', '', 'b']],
  ['quoted field spans a line break', '"a\nb" c', ['a\nb', 'c']],
  ['CRLF inside quotes becomes LF', '"a\r\nb"', ['a\nb']],
  ['a final CR is dropped', '-a b\r', ['-a', 'b']],
  ['a CR inside an argument stays', 'a\rb', ['a\rb']],
  ['empty lines before the arguments are skipped', '\n\n-a', ['-a']],
  ['a final line break is fine', '-a b\n', ['-a', 'b']],
  ['tab does not separate', '-a\tb', ['-a\tb']],
  ['quote in the middle of an argument', 'a"b', /bare " in an unquoted argument at column 2/],
  ['text after a closing quote', '"a"b', /unexpected character after closing quote at column 4/],
  ['a second line of arguments', '-a\n-b', /line break ends the arguments/],
  ['only line breaks', '\n\r\n', /only line breaks/],
];

for (const [name, input, want] of cases) {
  test(`cmd_args: ${name}`, () => {
    if (want instanceof RegExp) assert.throws(() => splitCmdArgs(input), want);
    else assert.deepEqual(splitCmdArgs(input), want);
  });
}

/** What Go's encoding/csv (the Go helper's reader) gives for each input. */
interface GoResult {
  args: string[] | null;
  error?: string;
  more: boolean;
}

/** The reference program, built once per source version into the user's cache, outside the repo. */
async function goReference(): Promise<string> {
  const dir = new URL('./go-csv-reference/', import.meta.url).pathname;
  const source = readFileSync(join(dir, 'main.go'));
  const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'spiffe-helper-ts', 'go-csv-reference', createHash('sha256').update(source).digest('hex').slice(0, 16));
  const binary = join(cache, 'csvref');
  if (existsSync(binary)) return binary;
  mkdirSync(cache, { recursive: true });
  const partial = `${binary}.${process.pid}.tmp`;
  try {
    await new Promise<void>((resolve, reject) =>
      execFile('go', ['build', '-trimpath', '-o', partial, 'main.go'], { cwd: dir, env: { ...process.env, GOWORK: 'off', GO111MODULE: 'off' } }, (err, _o, stderr) =>
        err ? reject(new Error(`building the encoding/csv reference needs the Go toolchain: ${err.message}\n${stderr}`)) : resolve(),
      ),
    );
    renameSync(partial, binary);
  } finally {
    rmSync(partial, { force: true });
  }
  return binary;
}

function runGo(binary: string, inputs: string[]): GoResult[] {
  return JSON.parse(execFileSync(binary, { input: JSON.stringify(inputs), encoding: 'utf8' }));
}

/** Ours agrees with Go's: the same arguments, an error where Go errs, and an error where Go drops a second record. */
function agree(input: string, go: GoResult): void {
  let ours: string[] | Error;
  try {
    ours = splitCmdArgs(input);
  } catch (e) {
    ours = e as Error;
  }
  const label = JSON.stringify(input);
  if (go.error !== undefined || go.more) {
    assert.ok(ours instanceof Error, `${label}: Go ${go.error ? `fails (${go.error})` : 'ignores a second record'}, ours gave ${JSON.stringify(ours)}`);
  } else {
    assert.deepEqual(ours, go.args, `${label}: Go gives ${JSON.stringify(go.args)}`);
  }
}

const tricky = [
  ...vectors.cmd_args_string_form.map((v) => v.in),
  ...cases.map(([, input]) => input),
  '""',
  '"" ""',
  '""""',
  '"a""b"',
  '"a"" b"',
  '" "',
  '"  a  "',
  'a "b c" d',
  '"a" "b"',
  '"a"  "b"',
  '"unterminated\n',
  '"a\r"',
  '\r',
  '\r\r',
  'a\r\r\n',
  '\n"a b"\n\n',
  "it's 'quoted'",
  '-c "echo \\"x\\""',
  'é "ü x"',
];

test('cmd_args: the same as Go encoding/csv on a table of tricky inputs', async () => {
  const binary = await goReference();
  const results = runGo(binary, tricky);
  tricky.forEach((input, i) => agree(input, results[i]!));
});

test('cmd_args: the same as Go encoding/csv on generated strings', async () => {
  const binary = await goReference();
  const alphabet = fc.constantFrom(' ', ' ', '"', '"', 'a', 'b', '\n', '\r', "'", '\t', 'é');
  const inputs = fc.sample(
    fc.array(alphabet, { maxLength: 12 }).map((a) => a.join('')),
    { numRuns: 3000, seed: 15 },
  );
  const results = runGo(binary, inputs);
  inputs.forEach((input, i) => agree(input, results[i]!));
});
