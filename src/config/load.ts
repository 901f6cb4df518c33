import { readFile } from 'node:fs/promises';
import { parse, TomlError } from 'smol-toml';
import { HelperError } from '../errors.js';
import { normalizeConfig, type Config } from './config.js';
import { TableReader, Where } from './keys.js';

/** Reads and validates a TOML config file. Nothing is touched on disk before this succeeds. */
export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new HelperError('config', `${file}: cannot read config: ${why}`);
  }
  return parseConfig(text, file, env);
}

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
  return normalizeConfig(new TableReader(raw, new Where(file, text)), file, env);
}
