import { parse, TomlError } from 'smol-toml';
import { differencesMet, isGoConfig } from './go/differences.js';
import { GO_CMD_RELAUNCH } from './go/values.js';
import { HclError, parseHcl } from './go/hcl.js';
import { HelperError } from '../errors.js';
import type { Config } from './config.js';
import { applyEnvConfig, hasEnvConfig, readEnvConfig } from './env.js';
import { dropGoUnset, goTable, parseGoJson, type Dialect } from './go-config.js';
import { TableReader, Where, type RawTable } from './keys.js';
import { loadStorePasswords } from './keystore-output.js';
import { normalizeConfig } from './normalize.js';
import { ENV_PREFIX, TOP_LEVEL_KEYS } from './schema.js';
import { readTextFile, whyUnreadable } from '../read-text.js';

export interface LoadOptions {
  /**
   * The file was not named on the command line (the default `helper.conf`): when it does not
   * exist and `SPIFFE_HELPER_*` variables are set, the environment alone configures the helper.
   */
  optional?: boolean;
  /** The command line's daemon mode, which wins over the file's (the one-shot rules depend on it). */
  daemonMode?: boolean;
  /**
   * The stores' passwords are left unread: inspect reads each itself and, when one cannot be
   * read (a file only the helper's user may read), inspects that store without it.
   */
  passwordsLater?: boolean;
}

/**
 * Reads and validates a config file: TOML (the documented format), or the Go helper's HCL or
 * HCL-JSON, told apart by the content. Nothing is touched on disk before this succeeds.
 */
export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): Promise<Config> {
  let text: string;
  try {
    text = await readTextFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && options.optional && hasEnvConfig(env)) return withSecrets(configFromEnv(env, options), env, options);
    const hint = code === 'ENOENT' && options.optional ? ` (pass --config FILE, or configure with ${ENV_PREFIX}* environment variables)` : '';
    throw new HelperError('config', `${file}: cannot read config: ${whyUnreadable(e)}${hint}`);
  }
  return withSecrets(parseConfig(text, file, env, options), env, options);
}

/** Parsing reads no secret; loading reads the passwords the config names (errors name key and file). */
function withSecrets(config: Config, env: NodeJS.ProcessEnv, options: LoadOptions): Config {
  if (!options.passwordsLater) loadStorePasswords(config.x509?.stores, env);
  return config;
}

/** A config file's text, with the `SPIFFE_HELPER_*` variables of `env` on top. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): Config {
  const read = readDialect(text, file);
  return build(read, text, file, env, options);
}

/** The configuration from `SPIFFE_HELPER_*` variables alone, without a file. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): Config {
  return build({ dialect: 'env', table: {}, lines: new Map(), notices: [] }, '', `environment (${ENV_PREFIX}*)`, env, options);
}

interface Read {
  dialect: Dialect | 'env';
  table: RawTable;
  lines: Map<string, number>;
  notices: string[];
}

/**
 * HCL-JSON when the text starts with `{` (as the Go helper's HCL library decides); otherwise
 * TOML when it parses as TOML, else the Go helper's HCL. A Go file that is also valid TOML
 * (its flat sample files) means the same either way: the Go "not set" values are read alike.
 */
function readDialect(text: string, file: string): Read {
  if (/^\ufeff?\s*\{/.test(text)) return { dialect: 'hcl-json', ...goTable(parseGoJson(text, file), file) };
  let tomlError: unknown;
  try {
    return { dialect: 'toml', table: dropGoUnset(parse(text)), lines: new Map(), notices: [] };
  } catch (e) {
    tomlError = e;
  }
  let hcl;
  try {
    hcl = parseHcl(text);
  } catch (e) {
    if (!(e instanceof HclError)) throw e;
    throw tomlSyntaxError(tomlError, file, ` (nor the Go helper's HCL: line ${e.line}: ${e.message})`);
  }
  return { dialect: 'hcl', ...goTable(hcl, file) };
}

function tomlSyntaxError(e: unknown, file: string, also: string): HelperError {
  if (e instanceof TomlError) {
    const first = e.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
    return new HelperError('config', `${file}:${e.line}:${e.column}: invalid TOML: ${first}${also}`);
  }
  return new HelperError('config', `${file}: invalid TOML: ${(e as Error).message}${also}`);
}

function build(read: Read, text: string, file: string, env: NodeJS.ProcessEnv, options: LoadOptions): Config {
  const fromEnv = readEnvConfig(env);
  const raw = applyEnvConfig(read.table, fromEnv);
  const where = new Where(file, text, fromEnv.sources, read.lines);
  const config = normalizeConfig(new TableReader(raw, where, TOP_LEVEL_KEYS), file, env, options.daemonMode);
  const addressVar = fromEnv.sources.get('agent_address');
  if (addressVar) config.agentAddressSource = addressVar;
  config.dialect = read.dialect;
  config.notices.unshift(...read.notices);
  // A Go config's cmd is re-run at the next rotation when it exits (Go issue #246): so it is here.
  if (read.dialect.startsWith('hcl') && config.cmd && config.renewSignal && raw['cmd_restart_policy'] === undefined) {
    config.cmd.restartPolicy = 'next-rotation';
    if (config.daemonMode) config.notices.push(`note: ${GO_CMD_RELAUNCH}`);
  }
  if (isGoConfig(read.dialect, Object.keys(read.table))) config.notices.push(...differencesMet(config).map((m) => `note: ${m}`));
  return config;
}
