import { constants } from 'node:os';
import { splitCmdArgs } from './cmd-args.js';
import type { Config } from './config.js';
import type { TopLevelReader } from './keys.js';

/** `cmd` and the keys that only mean something with it. */
export function readCmd(r: TopLevelReader): Config['cmd'] {
  const cmd = r.nonEmptyString('cmd');
  const raw = r.raw('cmd_args');
  const policy = r.oneOf('cmd_restart_policy');
  let args: string[] = [];
  if (typeof raw === 'string') {
    try {
      args = splitCmdArgs(raw);
    } catch (e) {
      throw r.error('cmd_args', (e as Error).message);
    }
  } else if (Array.isArray(raw) && raw.every((a) => typeof a === 'string')) {
    args = raw;
  } else if (raw !== undefined) {
    throw r.error('cmd_args', 'must be a string ("-a \\"b c\\"") or an array of strings (["-a", "b c"])');
  }
  const stopGraceMs = r.duration('cmd_stop_grace_period');
  if (cmd === undefined) {
    for (const key of ['cmd_args', 'cmd_restart_policy', 'cmd_stop_grace_period'] as const) {
      if (r.has(key)) throw r.error(key, 'is set but cmd is not');
    }
    return undefined;
  }
  return { path: cmd, args, restartPolicy: policy, stopGraceMs };
}

/** `renew_signal`, with a suggestion for the spellings people type ("hup", "sighup"). */
export function readSignal(r: TopLevelReader): NodeJS.Signals | undefined {
  const name = r.nonEmptyString('renew_signal');
  if (name === undefined) return undefined;
  if (name in constants.signals) return name as NodeJS.Signals;
  const guess = name.toUpperCase().startsWith('SIG') ? name.toUpperCase() : `SIG${name.toUpperCase()}`;
  const hint = guess in constants.signals ? `; did you mean "${guess}"?` : ' (e.g. "SIGHUP", "SIGUSR1")';
  throw r.error('renew_signal', `"${name}" is not a signal name${hint}`);
}
