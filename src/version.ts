import { readFileSync } from 'node:fs';

/**
 * The helper's version, one constant for `--version` and the build_info metric. The bundle gets
 * package.json's version at build time (scripts/bundle.mjs defines SPIFFE_HELPER_VERSION), so the
 * installed package reads no file for it; the unbundled dist/version.js reads ../package.json.
 */
declare const SPIFFE_HELPER_VERSION: string | undefined;

export const VERSION: string =
  typeof SPIFFE_HELPER_VERSION === 'string' ? SPIFFE_HELPER_VERSION : (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
