/**
 * The one command shape (src/cli/): every command and subcommand answers --help and -h in one
 * format, reports a usage error in one style naming the flag, takes the Go helper's single-dash
 * spellings, and exits with codes from the one table (ExitCode).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parseCommandArgs } from '../../src/cli/args.js';
import { commands } from '../../src/cli/commands.js';
import { helperCommand } from '../../src/cli/helper.js';
import { ExitCode, exitCodeFor, exitCodeForStop, exitCodeOfError, HelperError, type ErrorCode } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const names = ['', 'dev-agent', 'jwt verify', 'convert-config', 'inspect'];

describe('help', () => {
  it('the command table names every command', () => {
    assert.deepEqual(commands.map((c) => c.name).sort(), [...names].sort());
  });

  for (const name of names) {
    for (const flag of ['--help', '-h']) {
      it(`spiffe-helper ${name} ${flag}: one format, on stdout, exit 0`.replace(/ +/g, ' '), async () => {
        const r = await runCli([...name.split(' ').filter(Boolean), flag]);
        assert.equal(r.code, ExitCode.ok, r.stderr);
        assert.equal(r.stderr, '');
        assert.match(r.stdout, new RegExp(`^Usage: spiffe-helper ${name}`.trimEnd()));
        assert.match(r.stdout, /\n\nFlags:\n(.*\n)*  -h, --help {13}show this help\n\nExit codes: 0 /);
      });
    }
  }

  // `jwt --help` used to be read as the helper's flags: "Unexpected argument 'jwt'", exit 2.
  for (const argv of [
    ['jwt', '--help'],
    ['jwt', '-h'],
  ]) {
    it(`spiffe-helper ${argv.join(' ')} lists the jwt commands`, async () => {
      const r = await runCli(argv);
      assert.equal(r.code, ExitCode.ok, r.stderr);
      assert.match(r.stdout, /^Usage: spiffe-helper jwt verify --bundle FILE/);
      assert.match(r.stdout, /spiffe-helper jwt <command> --help/);
    });
  }
});

describe('usage errors: one style for every command', () => {
  const cases: { name: string; argv: string[]; command: string; says: RegExp }[] = [
    { name: 'helper, unknown flag', argv: ['--bogus'], command: '', says: /--bogus/ },
    { name: 'helper, bad choice', argv: ['--log-level', 'loud'], command: '', says: /--log-level "loud": must be one of debug, info, warn, error/ },
    { name: 'helper, bad duration', argv: ['--timeout', 'soon'], command: '', says: /--timeout: "soon" is not a duration/ },
    { name: 'helper, Go-style bad bool', argv: ['-daemon-mode=maybe'], command: '', says: /--daemon-mode "maybe": must be one of true, false/ },
    { name: 'dev-agent, unknown flag', argv: ['dev-agent', '--bogus'], command: 'dev-agent', says: /--bogus/ },
    { name: 'dev-agent, bad choice', argv: ['dev-agent', '--key-type', 'dsa'], command: 'dev-agent', says: /--key-type "dsa": must be one of/ },
    { name: 'jwt, no command', argv: ['jwt'], command: 'jwt', says: /expected a command \(verify\)/ },
    { name: 'jwt, unknown command', argv: ['jwt', 'fetch'], command: 'jwt', says: /expected a command \(verify\), got "fetch"/ },
    { name: 'jwt verify, unknown flag', argv: ['jwt', 'verify', '--bogus'], command: 'jwt verify', says: /--bogus/ },
    { name: 'jwt verify, missing flag', argv: ['jwt', 'verify', '--audience', 'a', 't'], command: 'jwt verify', says: /--bundle FILE is required/ },
    { name: 'jwt verify, no token', argv: ['jwt', 'verify', '--bundle', 'b', '--audience', 'a'], command: 'jwt verify', says: /expected one TOKEN \(or - for stdin\), got 0 arguments/ },
    { name: 'convert-config, no file', argv: ['convert-config'], command: 'convert-config', says: /expected one FILE \(or - for stdin\), got 0 arguments/ },
    { name: 'convert-config, unknown flag', argv: ['convert-config', '--bogus', 'x'], command: 'convert-config', says: /--bogus/ },
    { name: 'inspect, unknown flag', argv: ['inspect', '--bogus'], command: 'inspect', says: /--bogus/ },
    { name: 'inspect, flag without --dir', argv: ['inspect', '--svid', 'x'], command: 'inspect', says: /--svid goes with --dir/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const r = await runCli(c.argv);
      assert.equal(r.code, ExitCode.usage, r.stderr);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `one line:\n${r.stderr}`);
      const prefix = c.command === '' ? '' : `${c.command}: `;
      const help = c.command === '' ? 'spiffe-helper --help' : `spiffe-helper ${c.command} --help`;
      assert.match(lines[0]!, new RegExp(`^\\S+ ERROR ${prefix}.*\\(see ${help}\\) code=usage exit_code=2$`));
      assert.match(lines[0]!, c.says);
    });
  }
});

describe('Go-style flags', () => {
  const parse = (argv: string[]) => parseCommandArgs('', helperCommand, argv);
  const cases: { name: string; argv: string[]; values: Record<string, unknown> }[] = [
    { name: '-config FILE', argv: ['-config', 'h.conf'], values: { config: 'h.conf' } },
    { name: '-config=FILE', argv: ['-config=h.conf'], values: { config: 'h.conf' } },
    { name: '-daemon-mode=false', argv: ['-daemon-mode=false'], values: { 'daemon-mode': 'false' } },
    { name: '-daemon-mode alone', argv: ['-daemon-mode'], values: { 'daemon-mode': 'true' } },
    { name: '--daemon-mode alone', argv: ['--daemon-mode'], values: { 'daemon-mode': 'true' } },
    { name: '-timeout and -once', argv: ['-once', '-timeout', '5s'], values: { once: true, timeout: '5s' } },
    { name: '-version', argv: ['-version'], values: { version: true } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const args = parse(c.argv);
      assert.ok(args !== 'help');
      assert.deepEqual({ ...args.values }, c.values);
    });
  }
  it('-help', () => assert.equal(parse(['-help']), 'help'));
  it('an undeclared single-dash word stays an error', () => {
    assert.throws(
      () => parse(['-bogus']),
      (e) => e instanceof HelperError && e.code === 'usage' && /-b/.test(e.message),
    );
  });
});

describe('exit codes: one table', () => {
  it('every error code maps to an entry of ExitCode', () => {
    for (const [code, exit] of Object.entries(exitCodeOfError)) {
      assert.ok(exit in ExitCode, `${code} → ${exit}`);
      assert.equal(exitCodeFor(new HelperError(code as ErrorCode, 'x')), ExitCode[exit]);
    }
    assert.equal(exitCodeFor(new Error('a bug')), ExitCode.internal);
  });

  it('every entry of ExitCode is reachable', async () => {
    const reached = new Set<number>([ExitCode.ok, ...Object.values(exitCodeOfError).map((k) => ExitCode[k])]);
    reached.add(exitCodeForStop('SIGINT')).add(exitCodeForStop('SIGTERM'));
    // inspect finds a problem: nothing in an empty directory.
    const r = await runCli(['inspect', '--dir', tempDir()]);
    reached.add(r.code!);
    assert.deepEqual(
      [...reached].sort((a, b) => a - b),
      Object.values(ExitCode).sort((a, b) => a - b),
    );
    assert.equal(r.code, ExitCode.inspectProblem, r.stderr);
  });

  it('the README table documents every exit code of the table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('## Exit codes'));
    const documented = new Set([...table.slice(0, table.indexOf('\n## ', 3)).matchAll(/^\| ([\d, ]+) \|/gm)].flatMap((m) => m[1]!.split(',').map(Number)));
    for (const [name, code] of Object.entries(ExitCode)) assert.ok(documented.has(code), `${name} (${code})`);
  });
});

describe('lazy commands', () => {
  const bundleDir = fileURLToPath(new URL('../../dist/bundle/', import.meta.url));
  /** The entry and every chunk it imports statically: what a helper run loads. */
  function staticGraph(file: string, seen = new Set<string>()): Set<string> {
    if (seen.has(file)) return seen;
    seen.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(/^import [^;]*? from "(\.\/[^"]+)";?$/gm)) staticGraph(join(bundleDir, m[1]!), seen);
    return seen;
  }

  it('the helper loads no code of inspect, convert-config, jwt verify or the dev agent', () => {
    const graph = [...staticGraph(join(bundleDir, 'cli.js'))];
    assert.ok(graph.length > 1, 'the entry imports its shared chunks');
    const code = graph.map((f) => readFileSync(f, 'utf8')).join('\n');
    assert.match(code, /function parseCommandArgs\d*\(/, 'the check sees the functions of the static graph');
    for (const fn of ['renderText', 'inspectJwtBundles', 'convertHcl', 'startDevAgent', 'parseJwtBundleFile', 'parseAndValidateJwtSvid']) {
      assert.doesNotMatch(code, new RegExp(`function ${fn}\\d*\\(`), fn);
    }
  });
});
