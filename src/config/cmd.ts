import { constants } from 'node:os';
import { splitCmdArgs } from './cmd-args.js';
import type { Config, RestartPolicy } from './config.js';
import { parseDuration } from './duration.js';
import type { TableReader } from './keys.js';

const RESTART_POLICIES: readonly RestartPolicy[] = ['never', 'on-failure', 'always', 'next-rotation'];

/** `cmd` and the keys that only mean something with it. */
export function readCmd(r: TableReader): Config['cmd'] {
  const cmd = r.nonEmptyString('cmd');
  const raw = r.raw('cmd_args');
  const policy = r.oneOf('cmd_restart_policy', RESTART_POLICIES, 'never');
  const graceText = r.string('cmd_stop_grace_period');
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
  let stopGraceMs = 10_000;
  if (graceText !== undefined) {
    try {
      stopGraceMs = parseDuration(graceText);
    } catch (e) {
      throw r.error('cmd_stop_grace_period', (e as Error).message);
    }
  }
  if (cmd === undefined) {
    for (const key of ['cmd_args', 'cmd_restart_policy', 'cmd_stop_grace_period']) {
      if (r.has(key)) throw r.error(key, 'is set but cmd is not');
    }
    return undefined;
  }
  return { path: cmd, args, restartPolicy: policy, stopGraceMs };
}

/** `renew_signal`, with a suggestion for the spellings people type ("hup", "sighup"). */
export function readSignal(r: TableReader): NodeJS.Signals | undefined {
  const name = r.nonEmptyString('renew_signal');
  if (name === undefined) return undefined;
  if (name in constants.signals) return name as NodeJS.Signals;
  const guess = name.toUpperCase().startsWith('SIG') ? name.toUpperCase() : `SIG${name.toUpperCase()}`;
  const hint = guess in constants.signals ? `; did you mean "${guess}"?` : ' (e.g. "SIGHUP", "SIGUSR1")';
  throw r.error('renew_signal', `"${name}" is not a signal name${hint}`);
}
