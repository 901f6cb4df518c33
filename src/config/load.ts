import { parse, TomlError } from 'smol-toml';
import { HelperError } from '../errors.js';
import { normalizeConfig, type Config } from './config.js';
import { applyEnvConfig, ENV_PREFIX, hasEnvConfig, readEnvConfig } from './env.js';
import { TableReader, Where, type RawTable } from './keys.js';
import { readTextFile } from '../read-text.js';

export interface LoadOptions {
  /**
   * The file was not named on the command line (the default `helper.conf`): when it does not
   * exist and `SPIFFE_HELPER_*` variables are set, the environment alone configures the helper.
   */
  optional?: boolean;
}

/** Reads and validates a TOML config file. Nothing is touched on disk before this succeeds. */
export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): Promise<Config> {
  let text: string;
  try {
    text = await readTextFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && options.optional && hasEnvConfig(env)) return configFromEnv(env);
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    const hint = code === 'ENOENT' && options.optional ? ` (pass --config FILE, or configure with ${ENV_PREFIX}* environment variables)` : '';
    throw new HelperError('config', `${file}: cannot read config: ${why}${hint}`);
  }
  return parseConfig(text, file, env);
}

/** A config file's text, with the `SPIFFE_HELPER_*` variables of `env` on top. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let raw: Record<string, unknown>;
  try {
    raw = parse(text);
  } catch (e) {
    if (e instanceof TomlError) {
      const first = e.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
      throw new HelperError('config', `${file}:${e.line}:${e.column}: invalid TOML: ${first}`);
    }
    throw new HelperError('config', `${file}: invalid TOML: ${(e as Error).message}`);
  }
  return build(raw, text, file, env);
}

/** The configuration from `SPIFFE_HELPER_*` variables alone, without a file. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  return build({}, '', `environment (${ENV_PREFIX}*)`, env);
}

function build(fileTable: RawTable, text: string, file: string, env: NodeJS.ProcessEnv): Config {
  const fromEnv = readEnvConfig(env);
  const raw = applyEnvConfig(fileTable, fromEnv);
  const config = normalizeConfig(new TableReader(raw, new Where(file, text, fromEnv.sources)), file, env);
  const addressVar = fromEnv.sources.get('agent_address');
  if (addressVar) config.agentAddressSource = addressVar;
  return config;
}
