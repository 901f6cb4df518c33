/** Finds the command `argv` names, parses its flags, runs it and maps what it throws to an exit code. */
import { envVarName } from '../config/schema.js';
import { describeError, ExitCode, exitCodeFor, exitCodeForStop, HelperError } from '../errors.js';
import { createLogger, type LogFormat, type Logger } from '../log.js';
import type { SignalHub } from '../notify/signals.js';
import { parseCommandArgs, usageError } from './args.js';
import type { Context } from './command.js';
import { commands, type Entry } from './commands.js';
import { renderHelp } from './help.js';
import { untilStopped } from './stop.js';

const usageLine = (e: Entry): string => `spiffe-helper ${e.name === '' ? '' : `${e.name} `}${e.synopsis}`;

/**
 * The command `argv` names and the arguments left for it; for the first word of a command
 * group (`jwt`), its help or a usage error naming the commands it has.
 */
function resolve(argv: string[]): { entry: Entry; rest: string[] } | 'group help' {
  const named = commands.find((c) => c.name !== '' && c.name.split(' ').every((w, i) => argv[i] === w));
  if (named) return { entry: named, rest: argv.slice(named.name.split(' ').length) };
  const group = commands.filter((c) => c.name.includes(' ') && c.name.split(' ')[0] === argv[0]);
  if (group.length > 0) {
    if (argv[1] === '-h' || argv[1] === '--help' || argv[1] === '-help') return 'group help';
    const names = group.map((c) => c.name.split(' ')[1]).join(', ');
    throw usageError(argv[0]!, `expected a command (${names})${argv[1] === undefined ? '' : `, got ${JSON.stringify(argv[1])}`}`);
  }
  return { entry: commands.find((c) => c.name === '')!, rest: argv };
}

/**
 * The log format before a config is loaded, from the flag (either spelling) or else
 * SPIFFE_HELPER_LOG_FORMAT, with their precedence: config errors, often the one line a run
 * prints, then come out in the format the deployment asked for.
 */
function earlyLogFormat(argv: string[], env: NodeJS.ProcessEnv): LogFormat {
  const i = argv.findLastIndex((a) => /^--?log-format(=|$)/.test(a));
  const flag = i < 0 ? undefined : argv[i]!.includes('=') ? argv[i]!.slice(argv[i]!.indexOf('=') + 1) : argv[i + 1];
  return (flag ?? env[envVarName('log_format')]) === 'json' ? 'json' : 'text';
}

/**
 * A crash (an error nothing caught) is one redacted log line too, then exit 1 as Node's own
 * crash would: Node's report prints the error as util.inspect sees it, every property and
 * cause unredacted, over many lines.
 */
function reportCrashes(log: Logger): void {
  if (process.listenerCount('uncaughtException') > 0) return;
  const crash = (e: unknown): void => {
    log.error(`crashed: ${describeError(e)}`, { code: 'internal', exit_code: ExitCode.internal, stack: e instanceof Error ? e.stack : undefined });
    process.exit(ExitCode.internal);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
}

export async function main(argv: string[], signals: SignalHub): Promise<number> {
  const ctx: Context = { log: createLogger({ format: earlyLogFormat(argv, process.env) }), signals };
  reportCrashes(ctx.log);
  try {
    const found = resolve(argv);
    if (found === 'group help') {
      const group = commands.filter((c) => c.name.startsWith(`${argv[0]} `));
      process.stdout.write(`Usage: ${group.map(usageLine).join('\n       ')}\n\nSee spiffe-helper ${argv[0]} <command> --help.\n`);
      return ExitCode.ok;
    }
    const { entry, rest } = found;
    const command = await entry.load();
    const args = parseCommandArgs(entry.name, command, rest);
    if (args === 'help') {
      const usage = entry.name === '' ? commands.map(usageLine) : [usageLine(entry)];
      process.stdout.write(renderHelp(usage, command));
      return ExitCode.ok;
    }
    const running = command.run(args, ctx);
    return await (command.stopsItself ? running : untilStopped(running, signals.signal));
  } catch (e) {
    if (signals.stoppedBy && signals.signal.aborted && !(e instanceof HelperError)) {
      ctx.log.info('stopped', { signal: signals.stoppedBy });
      return exitCodeForStop(signals.stoppedBy);
    }
    ctx.log.error(describeError(e), { code: e instanceof HelperError ? e.code : 'internal', exit_code: exitCodeFor(e) });
    return exitCodeFor(e);
  }
}
