import { readdirSync, readFileSync } from 'node:fs';
import { VERSION } from './version.js';

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
  private readonly refusals = new Map<string, number>();

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

  /** An update from the agent failed validation; `reason` is the HelperError's stable word. */
  refused(reason: string): void {
    this.refusals.set(reason, (this.refusals.get(reason) ?? 0) + 1);
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
    const jwtExpiry = [...this.jwtExpiry].sort(([a], [b]) => (a < b ? -1 : 1));
    const families: Family[] = [
      { name: 'spiffe_helper_build_info', type: 'gauge', help: 'Always 1; the version of the running helper as a label.', samples: [{ labels: { version: VERSION }, value: 1 }] },
      {
        name: 'spiffe_helper_x509_svid_expiry_seconds',
        type: 'gauge',
        help: 'Seconds until the X.509-SVID on disk expires; negative once it has expired.',
        samples: this.svidNotAfter ? [{ value: secondsUntil(this.svidNotAfter) }] : [],
      },
      {
        name: 'spiffe_helper_x509_svid_expiry_timestamp_seconds',
        type: 'gauge',
        help: 'Unix time at which the X.509-SVID on disk expires.',
        samples: this.svidNotAfter ? [{ value: this.svidNotAfter.getTime() / 1000 }] : [],
      },
      {
        name: 'spiffe_helper_jwt_svid_expiry_seconds',
        type: 'gauge',
        help: 'Seconds until the JWT-SVID in each file expires; negative once it has expired.',
        samples: jwtExpiry.map(([file, expiry]) => ({ labels: { file }, value: secondsUntil(expiry) })),
      },
      {
        name: 'spiffe_helper_jwt_svid_expiry_timestamp_seconds',
        type: 'gauge',
        help: 'Unix time at which the JWT-SVID in each file expires.',
        samples: jwtExpiry.map(([file, expiry]) => ({ labels: { file }, value: expiry.getTime() / 1000 })),
      },
      { name: 'spiffe_helper_rotations_total', type: 'counter', help: 'X.509-SVID sets written to disk, the first one included.', samples: [{ value: this.rotations }] },
      {
        name: 'spiffe_helper_write_failures_total',
        type: 'counter',
        help: 'Outputs that could not be brought up to date (failed X.509 writes, failed JWT-SVID refreshes or JWT bundle writes); the last good files stay.',
        samples: [{ value: this.writeFailures }],
      },
      {
        name: 'spiffe_helper_refused_updates_total',
        type: 'counter',
        help: 'Updates from the agent that failed validation, by reason; the last good files stay.',
        samples: [...this.refusals].sort(([a], [b]) => (a < b ? -1 : 1)).map(([reason, value]) => ({ labels: { reason }, value })),
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
    return [...families, ...processFamilies()].map(renderFamily).join('');
  }
}

/** Prometheus' standard process metrics (the names every client library uses), read at scrape time. */
function processFamilies(): Family[] {
  const cpu = process.cpuUsage();
  const families: Family[] = [
    { name: 'process_cpu_seconds_total', type: 'counter', help: 'Total user and system CPU time spent in seconds.', samples: [{ value: (cpu.user + cpu.system) / 1e6 }] },
    { name: 'process_start_time_seconds', type: 'gauge', help: 'Start time of the process since unix epoch in seconds.', samples: [{ value: performance.timeOrigin / 1000 }] },
  ];
  // Linux only, as in the Go and Python clients: elsewhere (or out of descriptors) the families are left out.
  try {
    // Reads /proc/self/stat: out of descriptors it throws (EMFILE), and the scrape must still answer.
    families.push({ name: 'process_resident_memory_bytes', type: 'gauge', help: 'Resident memory size in bytes.', samples: [{ value: process.memoryUsage.rss() }] });
    // Less the descriptor that reads the directory.
    const open = readdirSync('/proc/self/fd').length - 1;
    families.push({ name: 'process_open_fds', type: 'gauge', help: 'Number of open file descriptors.', samples: [{ value: open }] });
    const max = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
    if (max) families.push({ name: 'process_max_fds', type: 'gauge', help: 'Maximum number of open file descriptors.', samples: [{ value: max === 'unlimited' ? Infinity : Number(max) }] });
  } catch {
    // no /proc
  }
  return families;
}

function renderFamily(f: Family): string {
  const lines = [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`];
  for (const s of f.samples) {
    const labels = s.labels
      ? `{${Object.entries(s.labels)
          .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
          .join(',')}}`
      : '';
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
