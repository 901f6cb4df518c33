/** The one argument parser of every command, and its one style of usage error. */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { describeError, HelperError } from '../errors.js';
import type { Args, Command, Flags } from './command.js';

/**
 * A usage error names the command and the flag, and points at the help; it exits with
 * ExitCode.usage. `command` is '' for the helper itself.
 */
export function usageError(command: string, message: string): HelperError {
  const name = command === '' ? 'spiffe-helper' : `spiffe-helper ${command}`;
  return new HelperError('usage', `${command === '' ? '' : `${command}: `}${message} (see ${name} --help)`);
}

/**
 * The Go helper's users type single-dash long flags (`-config FILE`, `-daemon-mode=false`), as Go's
 * flag package accepts: any flag the command declares is taken with one dash as with two.
 */
function goStyle(argv: string[], flags: Flags): string[] {
  const out: string[] = [];
  for (const [i, arg] of argv.entries()) {
    if (arg === '--') return [...out, ...argv.slice(i)];
    const m = /^--?([a-z][a-z0-9-]+)(=.*)?$/.exec(arg);
    const name = m?.[1];
    if (!m || !name || (name !== 'help' && !Object.hasOwn(flags, name))) {
      out.push(arg);
      continue;
    }
    const alone = flags[name]?.alone;
    out.push(m[2] === undefined && alone !== undefined ? `--${name}=${alone}` : `--${name}${m[2] ?? ''}`);
  }
  return out;
}

/** Parses `argv` by the command's flags: 'help' for -h/--help, else the values, checked. */
export function parseCommandArgs<F extends Flags>(name: string, command: Command<F>, argv: string[]): Args<F> | 'help' {
  const options: ParseArgsOptionsConfig = { help: { type: 'boolean', short: 'h' } };
  for (const [flag, spec] of Object.entries(command.flags)) options[flag] = spec.multiple ? { type: spec.type, multiple: true } : { type: spec.type };
  let parsed;
  try {
    parsed = parseArgs({ args: goStyle(argv, command.flags), options, strict: true, allowPositionals: command.positional !== undefined });
  } catch (e) {
    throw usageError(name, describeError(e));
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  for (const [flag, spec] of Object.entries(command.flags)) {
    const v = values[flag];
    if (spec.required && !v) throw usageError(name, `--${flag}${spec.value ? ` ${spec.value}` : ''} is required`);
    if (spec.choices && typeof v === 'string') oneOf(name, `--${flag}`, v, spec.choices);
  }
  if (command.positional !== undefined && positionals.length !== 1) {
    throw usageError(name, `expected one ${command.positional}, got ${positionals.length} arguments`);
  }
  return { values: values as Args<F>['values'], positional: positionals[0] ?? '' };
}

/** Parses one flag's value, turning the parser's complaint into a usage error naming the flag. */
export function flagValue<T>(command: string, flag: string, text: string, parse: (text: string) => T): T {
  try {
    return parse(text);
  } catch (e) {
    throw usageError(command, `${flag}: ${describeError(e)}`);
  }
}

export function oneOf<T extends string>(command: string, flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw usageError(command, `${flag} ${JSON.stringify(value)}: must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}
