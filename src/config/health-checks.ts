import { METRICS_PATH, type HealthConfig } from './config.js';
import type { TopLevelReader } from './keys.js';
import { HEALTH_CHECKS_KEYS } from './schema.js';

/** The `[health_checks]` table. */
export function readHealth(r: TopLevelReader): HealthConfig {
  const h = r.subtable('health_checks', HEALTH_CHECKS_KEYS);
  const path = (key: 'liveness_path' | 'readiness_path'): string => {
    const v = h.string(key);
    if (!v.startsWith('/')) throw h.error(key, `must start with "/", got ${JSON.stringify(v)}`);
    return v;
  };
  const health: HealthConfig = {
    enabled: h.bool('listener_enabled'),
    bindAddress: h.nonEmptyString('bind_address'),
    port: h.int('bind_port'),
    livenessPath: path('liveness_path'),
    readinessPath: path('readiness_path'),
    metricsEnabled: h.bool('metrics_enabled'),
  };
  h.rejectUnknown();
  if (health.metricsEnabled && !health.enabled) throw h.error('metrics_enabled', 'metrics are served by the health listener: set listener_enabled = true too');
  for (const key of ['liveness_path', 'readiness_path'] as const) {
    const p = key === 'liveness_path' ? health.livenessPath : health.readinessPath;
    if (health.metricsEnabled && p === METRICS_PATH) throw h.error(key, `must not be ${METRICS_PATH} when metrics_enabled = true`);
    // A request's path ends before these: such a probe would answer 404 to every request.
    const cut = /[?#]/.exec(p)?.[0];
    if (health.enabled && cut) throw h.error(key, `must be a path without a query or fragment: no request's path holds ${JSON.stringify(cut)}, got ${JSON.stringify(p)}`);
  }
  // The Go helper refuses to start then (its mux panics on the second registration).
  if (health.enabled && health.livenessPath === health.readinessPath) throw h.error('readiness_path', `must differ from liveness_path (${JSON.stringify(health.livenessPath)})`);
  return health;
}
