/** `spiffe-helper [flags]`: the helper itself, as a daemon or one-shot. */
import { parsePositiveDuration } from '../config/duration.js';
import { loadConfig } from '../config/load.js';
import { TOP_LEVEL_KEYS } from '../config/schema.js';
import { ExitCode } from '../errors.js';
import { createLogger, type LogFormat, type LogLevel } from '../log.js';
import { lockOutputDirs } from '../output/output-dir-locks.js';
import { setFileOwnership } from '../output/ownership.js';
import { runDaemon, runOnce } from '../sidecar.js';
import { VERSION } from '../version.js';
import { flagValue } from './args.js';
import { defineCommand } from './command.js';
import { untilStopped } from './stop.js';

export const helperCommand = defineCommand({
  about: `Keeps the workload's X.509 and JWT SVIDs fresh on disk and signals the program that uses them.`,
  flags: {
    config: {
      type: 'string',
      value: 'FILE',
      doc: 'TOML config (default: helper.conf). -config works too. Every key can also be set as SPIFFE_HELPER_<KEY>; without --config and helper.conf, the environment alone is the config. Flags > environment > file.',
    },
    once: { type: 'boolean', doc: 'fetch the SVIDs, write the files and exit (same as --daemon-mode=false)' },
    'daemon-mode': { type: 'string', value: 'BOOL', choices: ['true', 'false'], alone: 'true', doc: 'override daemon_mode from the config' },
    timeout: { type: 'string', value: 'DURATION', doc: 'one-shot: how long to wait for the agent (default 60s; 500ms, 30s, 2m)' },
    'log-level': { type: 'string', choices: TOP_LEVEL_KEYS.log_level.oneOf, doc: 'override log_level' },
    'log-format': { type: 'string', choices: TOP_LEVEL_KEYS.log_format.oneOf, doc: 'override log_format' },
    version: { type: 'boolean', doc: 'print the version and exit' },
  },
  exitCodes: [
    ['ok', 'ok'],
    ['internal', 'internal error'],
    ['usage', 'usage'],
    ['config', 'config'],
    ['timeout', 'timed out waiting for an identity'],
    ['workloadApi', 'the Workload API refused the request or sent an invalid identity'],
    ['output', 'cannot write files'],
    ['child', 'child command failed to start'],
    ['health', 'health listener failed'],
    ['busy', 'another helper writes cert_dir'],
    ['interrupted', 'a one-shot command stopped by SIGINT'],
    ['terminated', "stopped by SIGTERM (the daemon then exits 0, or with its wrapped cmd's code)"],
  ],
  stopsItself: true,
  async run({ values }, ctx) {
    if (values.version) {
      process.stdout.write(`spiffe-helper ${VERSION}\n`);
      return ExitCode.ok;
    }
    const timeoutMs = flagValue('', '--timeout', values.timeout ?? '60s', parsePositiveDuration);
    const configGiven = values.config !== undefined;
    const daemonMode = values.once ? false : values['daemon-mode'] === undefined ? undefined : values['daemon-mode'] === 'true';
    const { signals } = ctx;
    // A missing file named by --config is an error even when the environment configures.
    const config = await untilStopped(loadConfig(values.config ?? 'helper.conf', process.env, { optional: !configGiven, daemonMode }), signals.signal);
    const log = createLogger({ level: (values['log-level'] as LogLevel | undefined) ?? config.logLevel, format: (values['log-format'] as LogFormat | undefined) ?? config.logFormat });
    ctx.log = log;
    log.info('config read', { file: config.file, dialect: config.dialect });
    for (const n of config.notices) {
      if (n.startsWith('warning: ')) log.warn(n.slice('warning: '.length));
      else log.info(n.replace(/^note: /, ''));
    }
    for (const w of config.warnings) log.warn(w.message, { key: w.key });
    const daemon = daemonMode ?? config.daemonMode;
    setFileOwnership(config.fileOwnership, log);
    const lock = await lockOutputDirs(config, { mode: daemon ? 'daemon' : 'once', config: config.file }, log, daemon ? signals.signal : undefined);
    try {
      if (!daemon) {
        await runOnce({ config, log, signal: signals.signal, timeoutMs, guard: lock.guard });
        log.info('one-shot done');
        return ExitCode.ok;
      }
      return await runDaemon({ config, log, signals, guard: lock.guard });
    } finally {
      lock.release();
    }
  },
});
