/**
 * Counters and gauges for `/metrics` (Prometheus text format 0.0.4, written by hand). The
 * sidecar reports events here, as it does to HealthState; the HTTP handler only reads.
 * Expiry gauges are computed at scrape time, so they keep falling while the agent is away.
 */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

interface Family {
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  samples: { labels?: Record<string, string>; value: number }[];
}

export class Metrics {
  private rotations = 0;
  private writeFailures = 0;
  private reconnects = 0;
  private childRestarts = 0;
  private lastUpdate: Date | undefined;
  private svidNotAfter: Date | undefined;
  private readonly jwtExpiry = new Map<string, Date>();

  /** A new X.509-SVID set is on disk (the first one included). */
  x509Written(notAfter: Date, at: Date = new Date()): void {
    this.rotations++;
    this.svidNotAfter = notAfter;
    this.lastUpdate = at;
  }

  /** A JWT-SVID file holds a token valid until `expiry`; `changed`: it was rewritten just now. */
  jwtSvidWritten(file: string, expiry: Date, changed: boolean, at: Date = new Date()): void {
    this.jwtExpiry.set(file, expiry);
    if (changed) this.lastUpdate = at;
  }

  /** Another file (the JWT bundle) was rewritten. */
  updated(at: Date = new Date()): void {
    this.lastUpdate = at;
  }

  /** An output could not be brought up to date; the last good file stays. */
  writeFailed(): void {
    this.writeFailures++;
  }

  /** The Workload API client retries a stream or a call. */
  reconnected(): void {
    this.reconnects++;
  }

  /** A wrapped cmd was started again after it exited (cmd_restart_policy). */
  childRestarted(): void {
    this.childRestarts++;
  }

  render(now: Date = new Date()): string {
    const secondsUntil = (d: Date): number => (d.getTime() - now.getTime()) / 1000;
    const families: Family[] = [
      {
        name: 'spiffe_helper_x509_svid_expiry_seconds',
        type: 'gauge',
        help: 'Seconds until the X.509-SVID on disk expires; negative once it has expired.',
        samples: this.svidNotAfter ? [{ value: secondsUntil(this.svidNotAfter) }] : [],
      },
      {
        name: 'spiffe_helper_jwt_svid_expiry_seconds',
        type: 'gauge',
        help: 'Seconds until the JWT-SVID in each file expires; negative once it has expired.',
        samples: [...this.jwtExpiry].sort(([a], [b]) => (a < b ? -1 : 1)).map(([file, expiry]) => ({ labels: { file }, value: secondsUntil(expiry) })),
      },
      { name: 'spiffe_helper_rotations_total', type: 'counter', help: 'X.509-SVID sets written to disk, the first one included.', samples: [{ value: this.rotations }] },
      {
        name: 'spiffe_helper_write_failures_total',
        type: 'counter',
        help: 'Outputs that could not be brought up to date (failed X.509 writes, failed JWT-SVID refreshes or JWT bundle writes); the last good files stay.',
        samples: [{ value: this.writeFailures }],
      },
      { name: 'spiffe_helper_reconnects_total', type: 'counter', help: 'Workload API streams reopened and calls retried.', samples: [{ value: this.reconnects }] },
      { name: 'spiffe_helper_child_restarts_total', type: 'counter', help: 'Restarts of the wrapped cmd after it exited.', samples: [{ value: this.childRestarts }] },
      {
        name: 'spiffe_helper_last_update_timestamp_seconds',
        type: 'gauge',
        help: 'Unix time of the last update written to disk; 0 before the first.',
        samples: [{ value: this.lastUpdate ? this.lastUpdate.getTime() / 1000 : 0 }],
      },
    ];
    return families.map(renderFamily).join('');
  }
}

function renderFamily(f: Family): string {
  const lines = [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`];
  for (const s of f.samples) {
    const labels = s.labels ? `{${Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
    lines.push(`${f.name}${labels} ${formatValue(s.value)}`);
  }
  return lines.join('\n') + '\n';
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  return Number.isInteger(v) ? String(v) : v.toFixed(3);
}
