import type { HealthConfig } from './config.js';
import type { TableReader } from './keys.js';

/** Where the health listener serves metrics; the probe paths must stay clear of it. */
export const METRICS_PATH = '/metrics';

/** The `[health_checks]` table. */
export function readHealth(r: TableReader): HealthConfig {
  const h = r.subtable('health_checks');
  const path = (key: string, fallback: string): string => {
    const v = h?.string(key) ?? fallback;
    if (!v.startsWith('/')) throw h!.error(key, `must start with "/", got ${JSON.stringify(v)}`);
    return v;
  };
  const health: HealthConfig = {
    enabled: h?.bool('listener_enabled', false) ?? false,
    bindAddress: h?.nonEmptyString('bind_address') ?? '127.0.0.1',
    port: h?.int('bind_port', 8081, 0, 65535) ?? 8081,
    livenessPath: path('liveness_path', '/live'),
    readinessPath: path('readiness_path', '/ready'),
    metricsEnabled: h?.bool('metrics_enabled', false) ?? false,
  };
  h?.rejectUnknown();
  if (health.metricsEnabled && !health.enabled) throw h!.error('metrics_enabled', 'metrics are served by the health listener: set listener_enabled = true too');
  for (const key of ['liveness_path', 'readiness_path'] as const) {
    const p = key === 'liveness_path' ? health.livenessPath : health.readinessPath;
    if (health.metricsEnabled && p === METRICS_PATH) throw h!.error(key, `must not be ${METRICS_PATH} when metrics_enabled = true`);
  }
  return health;
}
