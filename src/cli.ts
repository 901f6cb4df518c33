#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { parseDuration } from './config/duration.js';
import { loadConfig } from './config/load.js';
import { envVarName, TOP_LEVEL_KEYS } from './config/schema.js';
import { describeError, exitCodeFor, exitCodeForStop, ExitCode, HelperError } from './errors.js';
import { createLogger, type LogFormat, type Logger, type LogLevel } from './log.js';
import { SignalHub } from './notify/signals.js';
import { lockCertDir } from './output/cert-dir-lock.js';
import { runDaemon, runOnce } from './sidecar.js';
import { VERSION } from './version.js';

const USAGE = `Usage:
  spiffe-helper [--config FILE] [--once | --daemon-mode=false] [--timeout DURATION]
                [--log-level debug|info|warn|error] [--log-format text|json]
  spiffe-helper dev-agent [--socket PATH] [--ttl DURATION] [...]   (spiffe-helper dev-agent --help)
  spiffe-helper jwt verify --bundle FILE --audience A [--trust-domain TD] TOKEN|-
  spiffe-helper convert-config GO_HELPER_HCL_FILE        (prints the TOML config on stdout)
  spiffe-helper inspect [--config FILE | --dir DIR] [--json]   (spiffe-helper inspect --help)

Options:
  --config FILE         TOML config (default: helper.conf). -config works too. Every key can
                        also be set as SPIFFE_HELPER_<KEY>; without --config and helper.conf,
                        the environment alone is the config. Flags > environment > file.
  --once                fetch the SVIDs, write the files and exit (same as --daemon-mode=false)
  --daemon-mode BOOL    override daemon_mode from the config
  --timeout DURATION    one-shot: how long to wait for the agent (default 60s; 500ms, 30s, 2m)
  --log-level LEVEL     override log_level
  --log-format FORMAT   override log_format
  --version, --help

Exit codes: 0 ok, 1 internal error, 2 usage, 3 config, 4 timed out waiting for an identity,
5 the Workload API refused the request or sent an invalid identity, 6 cannot write files,
7 child command failed to start, 8 health listener failed, 10 another helper writes cert_dir;
130 / 143 when a one-shot command is stopped by SIGINT / SIGTERM (the daemon then exits 0, or
with its wrapped cmd's code).`;

/** The Go helper's users type single-dash flags (`-config`); accept those spellings. */
function normalizeArgv(argv: string[]): string[] {
  return argv.map((a) => {
    const m = /^-(config|daemon-mode|help|version|once|timeout)(=.*)?$/.exec(a);
    const flag = m ? `-${a}` : a;
    return flag === '--daemon-mode' ? '--daemon-mode=true' : flag;
  });
}

interface MainFlags {
  config: string;
  /** --config was given: a missing file is then an error even when the environment configures. */
  configGiven: boolean;
  daemonMode?: boolean;
  timeoutMs: number;
  logLevel?: LogLevel;
  logFormat?: LogFormat;
}

function parseMainFlags(argv: string[]): MainFlags | 'help' | 'version' {
  let values;
  try {
    ({ values } = parseArgs({
      args: normalizeArgv(argv),
      options: {
        config: { type: 'string' },
        once: { type: 'boolean' },
        'daemon-mode': { type: 'string' },
        timeout: { type: 'string', default: '60s' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new HelperError('usage', `${(e as Error).message}\n\n${USAGE}`);
  }
  if (values.help) return 'help';
  if (values.version) return 'version';
  const dm = values['daemon-mode'];
  if (dm !== undefined && dm !== 'true' && dm !== 'false') throw new HelperError('usage', `--daemon-mode must be true or false, got "${dm}"`);
  let timeoutMs: number;
  try {
    timeoutMs = parseDuration(values.timeout!);
  } catch (e) {
    throw new HelperError('usage', `--timeout: ${(e as Error).message}`);
  }
  const level = values['log-level'];
  if (level !== undefined && !(TOP_LEVEL_KEYS.log_level.oneOf as readonly string[]).includes(level)) throw new HelperError('usage', `--log-level must be debug, info, warn or error`);
  const format = values['log-format'];
  if (format !== undefined && !(TOP_LEVEL_KEYS.log_format.oneOf as readonly string[]).includes(format)) throw new HelperError('usage', `--log-format must be text or json`);
  return {
    config: values.config ?? 'helper.conf',
    configGiven: values.config !== undefined,
    daemonMode: values.once ? false : dm === undefined ? undefined : dm === 'true',
    timeoutMs,
    logLevel: level as LogLevel | undefined,
    logFormat: format as LogFormat | undefined,
  };
}

/**
 * Settles like `work`, or rejects with the stop reason at SIGINT/SIGTERM: for work that cannot
 * be aborted, such as reading a FIFO or a terminal (the read itself is left behind: the
 * process exits without waiting for it).
 */
function untilStopped<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const stop = (): void => reject(signal.reason);
    if (signal.aborted) return stop();
    signal.addEventListener('abort', stop, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
  });
}

/** `out.log` becomes the configured logger as soon as the config is known, for the final error line too. */
async function runMain(flags: MainFlags, signals: SignalHub, out: { log: Logger }): Promise<number> {
  const config = await untilStopped(loadConfig(flags.config, process.env, { optional: !flags.configGiven, daemonMode: flags.daemonMode }), signals.signal);
  const log = createLogger({ level: flags.logLevel ?? config.logLevel, format: flags.logFormat ?? config.logFormat });
  out.log = log;
  log.info('config read', { file: config.file, dialect: config.dialect });
  for (const n of config.notices) {
    if (n.startsWith('warning: ')) log.warn(n.slice('warning: '.length));
    else log.info(n.replace(/^note: /, ''));
  }
  for (const w of config.warnings) log.warn(w.message, { key: w.key });
  const daemon = flags.daemonMode ?? config.daemonMode;
  const lock = await lockCertDir(config.certDir, { mode: daemon ? 'daemon' : 'once', config: config.file }, log);
  try {
    if (!daemon) {
      await runOnce({ config, log, signal: signals.signal, timeoutMs: flags.timeoutMs });
      log.info('one-shot done');
      return ExitCode.ok;
    }
    return await runDaemon({ config, log, signals });
  } finally {
    lock.release();
  }
}

/**
 * The log format before the config is loaded, from the flag (both spellings) or else
 * SPIFFE_HELPER_LOG_FORMAT, with their precedence: config errors, often the one line a run
 * prints, then come out in the format the deployment asked for.
 */
function earlyLogFormat(argv: string[], env: NodeJS.ProcessEnv): LogFormat {
  const i = argv.findLastIndex((a) => a === '--log-format' || a.startsWith('--log-format='));
  const flag = i < 0 ? undefined : argv[i] === '--log-format' ? argv[i + 1] : argv[i]!.slice('--log-format='.length);
  return (flag ?? env[envVarName('log_format')]) === 'json' ? 'json' : 'text';
}

async function main(argv: string[], signals: SignalHub): Promise<number> {
  const out = { log: createLogger({ format: earlyLogFormat(argv, process.env) }) };
  const { log } = out;
  try {
    if (argv[0] === 'dev-agent') {
      // Loaded on demand: the certificate-issuing library costs ~240 ms that the helper never needs.
      const { runDevAgentCommand } = await import('./dev/command.js');
      return await runDevAgentCommand(argv.slice(1), log, signals.signal);
    }
    if (argv[0] === 'inspect') {
      const { runInspectCommand } = await import('./inspect/command.js');
      return await untilStopped(runInspectCommand(argv.slice(1)), signals.signal);
    }
    if (argv[0] === 'convert-config') {
      const { runConvertConfigCommand } = await import('./convert/command.js');
      return await untilStopped(runConvertConfigCommand(argv.slice(1)), signals.signal);
    }
    if (argv[0] === 'jwt' && argv[1] === 'verify') {
      const { runJwtVerifyCommand } = await import('./jwt-verify-command.js');
      return await untilStopped(runJwtVerifyCommand(argv.slice(2), log), signals.signal);
    }
    const flags = parseMainFlags(argv);
    if (flags === 'help') {
      process.stdout.write(USAGE + '\n');
      return ExitCode.ok;
    }
    if (flags === 'version') {
      process.stdout.write(`spiffe-helper ${VERSION}\n`);
      return ExitCode.ok;
    }
    return await runMain(flags, signals, out);
  } catch (e) {
    if (signals.stoppedBy && signals.signal.aborted && !(e instanceof HelperError)) {
      out.log.info('stopped', { signal: signals.stoppedBy });
      return exitCodeForStop(signals.stoppedBy);
    }
    out.log.error(describeError(e), { code: e instanceof HelperError ? e.code : 'internal', exit_code: exitCodeFor(e) });
    return exitCodeFor(e);
  }
}

const signals = new SignalHub().install();
process.exitCode = await main(process.argv.slice(2), signals);
// A stopped command may leave a read behind that would keep the process alive (a FIFO, stdin).
if (signals.stoppedBy) process.exit();
