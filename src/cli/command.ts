/**
 * The one shape of a `spiffe-helper` command: its flags, its one positional argument if any, its
 * help and its exit codes, declared once; src/cli/args.ts parses by it and src/cli/help.ts
 * prints it, so every command takes flags, reports usage errors and shows help the same way.
 */
import type { ExitCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { SignalHub } from '../notify/signals.js';

export interface FlagSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  /** The value's placeholder in help and in the "is required" error: FILE, DURATION. */
  value?: string;
  required?: boolean;
  /** The only values accepted; anything else is a usage error naming the flag. */
  choices?: readonly string[];
  /** A Go-style boolean flag given alone (`-daemon-mode`) means this value. */
  alone?: string;
  doc: string;
}

export type Flags = Record<string, FlagSpec>;

type FlagValue<S extends FlagSpec> = S['type'] extends 'boolean' ? boolean : S['multiple'] extends true ? string[] : string;

export interface Args<F extends Flags> {
  values: { [K in keyof F]?: FlagValue<F[K]> };
  /** The positional argument, when the command takes one. */
  positional: string;
}

export interface Context {
  /** Replaced by the configured logger once a command has read its config. */
  log: Logger;
  signals: SignalHub;
}

export interface Command<F extends Flags = Flags> {
  /** What it does, for its help (paragraphs separated by a blank line). */
  about: string;
  flags: F;
  /** Name of the one positional argument it requires, e.g. `FILE|-`. */
  positional?: string;
  /** Its exit codes by their name in the one table, with what each means here. */
  exitCodes: readonly (readonly [keyof typeof ExitCode, string])[];
  /** Runs until SIGINT/SIGTERM and stops by itself (servers): not cut short when stopped. */
  stopsItself?: boolean;
  run(args: Args<F>, ctx: Context): Promise<number>;
}

/** Keeps the flags' literal types, so `run` sees each flag's value typed. */
export function defineCommand<const F extends Flags>(command: Command<F>): Command<F> {
  return command;
}
