import type { Config } from '../config/config.js';

/** Apart from index.ts so that the sidecar can ask without loading the JWT code. */
export function wantsJwt(config: Config): boolean {
  return config.jwtSvids.length > 0 || config.jwtBundleFileName !== undefined;
}
