/**
 * What the helper has achieved: the one place the sidecar reports events to, read by the
 * probes and by `/metrics`. The probe body is the Go helper's (`status`, and `health` holding
 * `file_write_statuses` keyed as Go keys them, `<cert_dir>/<file>`), with ours beside it.
 *
 * Ready: every configured output (X.509 set, each JWT-SVID, the JWT bundle) was written, is
 * unexpired, is still what the helper wrote (checked at probe time with a stat per file), and
 * its identity has not been redacted by the agent. Live: 503 only when a restart would help:
 * the helper's loops ended for good (a fatal error, the helper stopping), or cert_dir is gone
 * (a running helper does not recreate it behind an operator's back; a start does). An absent
 * agent, expiry, other failed writes and redaction are readiness matters: the helper retries
 * them itself, and a restart would do nothing more.
 */
import { statSync } from 'node:fs';
import { HelperError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { Metrics } from '../metrics.js';
import { outputPath } from '../output/names.js';
import { see, unchanged, type Seen } from './on-disk.js';

type WriteStatus = 'unwritten' | 'written' | 'failed';

export interface SvidSummary {
  spiffeId: string;
  serial: string;
  notAfter: Date;
}

/** Codes of an agent's message that failed validation: what the refused-updates metric counts. */
const REFUSALS = new Set(['spiffe-id', 'x509svid', 'x509bundle', 'jwtsvid', 'jwtbundle']);
function isRefusal(e: unknown): e is HelperError {
  return e instanceof HelperError && REFUSALS.has(e.code);
}

/** One output as the helper last left it on disk. */
class Output {
  status: WriteStatus = 'unwritten';
  /** File names (under cert_dir) as the helper left them right after the write. */
  private files: { name: string; seen: Seen | undefined }[] = [];
  expiry: Date | undefined;
  /** Why the agent no longer issues this output's identity, while it does not. */
  redacted: string | undefined;
  /** Why the token on disk is no longer usable (it no longer verifies with the JWT bundle, say), until a new one is written. */
  unusable: string | undefined;
  everWritten = false;
  /** A write is under way: its files change at the helper's own hand until it ends. */
  writing = false;

  constructor(
    readonly label: string,
    private readonly certDir: string,
  ) {}

  wrote(names: readonly string[]): void {
    this.files = names.map((name) => ({ name, seen: see(outputPath(this.certDir, name)) }));
  }

  /** What keeps this output from being ready, if anything. */
  problem(now: Date): string | undefined {
    if (!this.everWritten) return `${this.label}: not written yet`;
    if (this.redacted) return `${this.label}: redacted: ${this.redacted}`;
    if (this.unusable) return `${this.label}: no longer usable: ${this.unusable}`;
    if (this.expiry && this.expiry.getTime() <= now.getTime()) return `${this.label}: expired at ${this.expiry.toISOString()}`;
    if (this.writing) return undefined;
    const changed = this.files.find((f) => !unchanged(outputPath(this.certDir, f.name), f.seen));
    return changed && `${this.label}: ${changed.name} was deleted or replaced (or its content or mode changed) since the helper wrote it`;
  }
}

export interface HealthOptions {
  certDir: string;
  x509: boolean;
  jwtFiles: readonly string[];
  /** jwt_bundle_file_name, when the JWT bundle is written. */
  jwtBundleFile?: string;
  log?: Logger;
}

const X509 = 'x509';
const JWT_BUNDLE = 'jwt-bundle';
const jwtKey = (file: string): string => `jwt-svid:${file}`;

export class HealthState {
  private readonly outputs = new Map<string, Output>();
  private svid: SvidSummary | undefined;
  /** The current causes of trouble by source, the newest last; a source's entry goes when it recovers. */
  private readonly problems = new Map<string, string>();
  private ended = false;
  private readonly certDir: string;
  private readonly jwtBundleFile: string | undefined;
  private readonly log: Logger;
  readonly metrics = new Metrics();

  constructor(options: HealthOptions) {
    this.certDir = options.certDir;
    this.log = options.log ?? silentLogger;
    const add = (key: string, label: string): void => void this.outputs.set(key, new Output(label, options.certDir));
    if (options.x509) add(X509, 'x509 svid');
    for (const f of options.jwtFiles) add(jwtKey(f), `jwt svid ${f}`);
    this.jwtBundleFile = options.jwtBundleFile;
    if (options.jwtBundleFile !== undefined) add(JWT_BUNDLE, 'jwt bundle');
  }

  /** A new X.509 set is on disk as `files`. */
  x509Written(svid: SvidSummary, files: readonly string[]): void {
    this.svid = svid;
    this.written(X509, files, svid.notAfter);
    this.metrics.x509Written(svid.notAfter);
  }

  /**
   * A write of an output begins. Until it ends (written, unchanged or failed) the files are
   * replaced by the helper itself, so a probe in between must not take them for replaced
   * behind its back.
   */
  x509Writing(): void {
    this.writing(X509);
  }

  jwtWriting(file: string): void {
    this.writing(jwtKey(file));
  }

  jwtBundleWriting(): void {
    this.writing(JWT_BUNDLE);
  }

  /** An X.509 update was accepted and was already on disk. */
  x509Unchanged(): void {
    this.settled(X509);
    this.recovered(X509);
  }

  x509Failed(error: string): void {
    this.failed(X509, error);
  }

  /** `changed` false: the token on disk was already this one. */
  jwtWritten(file: string, expiry: Date | undefined, changed: boolean): void {
    this.written(jwtKey(file), changed ? [file] : undefined, expiry);
    if (expiry) this.metrics.jwtSvidWritten(file, expiry, changed);
  }

  /** `cause`: the error itself, when there is one: a refused token is counted by its reason. */
  jwtFailed(file: string, error: string, cause?: unknown): void {
    if (isRefusal(cause)) this.refusedUpdate(jwtKey(file), cause);
    this.failed(jwtKey(file), error);
  }

  /** The token on disk became useless to every consumer (the JWT bundle no longer verifies it, say). */
  jwtUnusable(file: string, why: string): void {
    const out = this.outputs.get(jwtKey(file));
    if (out) out.unusable = why;
  }

  jwtBundleWritten(files: readonly string[], changed: boolean): void {
    this.written(JWT_BUNDLE, changed ? files : undefined, undefined);
    if (changed) this.metrics.updated();
  }

  jwtBundleFailed(error: string): void {
    this.failed(JWT_BUNDLE, error);
  }

  /** The Workload API client retries a stream or a call because of `error`. */
  agentError(rpc: string, error: HelperError): void {
    this.metrics.reconnected();
    this.problems.delete(rpc);
    this.problems.set(rpc, error.message);
    if (error.reason !== 'identity_redacted') return;
    // The bundle stream is the only push for JWT: its redaction is the tokens' too (they name that identity).
    const tokens = [...this.outputs.keys()].filter((k) => k.startsWith('jwt-svid:'));
    const keys = rpc === 'FetchX509SVID' ? [X509] : rpc === 'FetchJWTBundles' ? [JWT_BUNDLE, ...tokens] : tokens;
    keys.forEach((k) => this.redact(k, error.message));
  }

  /** The agent answered `rpc`: its outage or refusal to issue is over. */
  agentAnswered(rpc: string): void {
    this.problems.delete(rpc);
  }

  /**
   * A streamed message from the agent was refused; the last good files stay. Whatever made
   * its handling fail (a check, or an error of the helper's own: reason `internal`), the
   * message was not used, and is counted.
   */
  refused(rpc: string, error: HelperError): void {
    this.refusedUpdate(rpc === 'FetchX509SVID' ? X509 : rpc === 'FetchJWTBundles' ? JWT_BUNDLE : rpc, error);
  }

  childRestarted(): void {
    this.metrics.childRestarted();
  }

  /** The helper's loops ended for good (`error`: why, when it was not a requested stop). */
  loopsEnded(error?: string): void {
    this.ended = true;
    if (error) this.problems.set('helper', error);
  }

  /**
   * The Go helper's `file_write_statuses`: x509 absent without X.509 output; one entry per JWT
   * file and one for the JWT bundle file, each keyed by the path Go joins (cert_dir/file).
   */
  private goWriteStatuses(): { x509_write_status?: WriteStatus; jwt_write_status: Record<string, WriteStatus> } {
    const jwt: Record<string, WriteStatus> = {};
    for (const [key, out] of this.outputs) {
      if (key === X509) continue;
      const file = key === JWT_BUNDLE ? this.jwtBundleFile! : key.slice('jwt-svid:'.length);
      jwt[outputPath(this.certDir, file)] = out.status;
    }
    return { x509_write_status: this.outputs.get(X509)?.status, jwt_write_status: jwt };
  }

  private writing(key: string): void {
    const out = this.outputs.get(key);
    if (out) out.writing = true;
  }

  private settled(key: string): void {
    const out = this.outputs.get(key);
    if (out) out.writing = false;
  }

  private written(key: string, files: readonly string[] | undefined, expiry: Date | undefined): void {
    this.settled(key);
    const out = this.outputs.get(key);
    if (out) {
      out.status = 'written';
      out.everWritten = true;
      out.expiry = expiry;
      out.unusable = undefined;
      if (files) out.wrote(files);
    }
    this.recovered(key);
  }

  private failed(key: string, error: string): void {
    this.settled(key);
    const out = this.outputs.get(key);
    if (out) out.status = 'failed';
    this.problems.delete(key);
    this.problems.set(key, error);
    this.metrics.writeFailed();
  }

  private refusedUpdate(key: string, error: HelperError): void {
    this.metrics.refused(error.reason);
    this.problems.delete(key);
    this.problems.set(key, error.message);
    // The hinted SVID no longer sent is a redaction of that identity (Workload API §5.2.1).
    if (error.reason === 'hint_not_sent' && this.outputs.get(key)?.everWritten) this.redact(key, error.message);
  }

  private redact(key: string, why: string): void {
    const out = this.outputs.get(key);
    if (!out || out.redacted) return;
    out.redacted = why;
    this.log.warn('the agent no longer issues this identity; not ready until it does again; the files stay until they expire', { output: out.label, reason: why });
  }

  private recovered(key: string): void {
    this.problems.delete(key);
    const out = this.outputs.get(key);
    if (out?.redacted) {
      out.redacted = undefined;
      this.log.info('the agent issues this identity again', { output: out.label });
    }
  }

  live(): boolean {
    if (this.ended) return false;
    // Any failure is a cert_dir the helper cannot use (a symlink loop, say): a throw here would crash the helper from a probe.
    try {
      return statSync(this.certDir, { throwIfNoEntry: false })?.isDirectory() === true;
    } catch {
      return false;
    }
  }

  /** Why the helper is not ready, one line per output; empty when it is. */
  notReady(now: Date = new Date()): string[] {
    return [...this.outputs.values()].flatMap((o) => o.problem(now) ?? []);
  }

  ready(now: Date = new Date()): boolean {
    return this.notReady(now).length === 0;
  }

  /** `probe`: which probe the body answers; Go's `status` is that probe's HTTP status text. */
  report(now: Date = new Date(), probe: 'live' | 'ready' = 'ready'): { live: boolean; ready: boolean; [field: string]: unknown } {
    const notReady = this.notReady(now);
    const live = this.live();
    const jwt = [...this.outputs].filter(([k]) => k.startsWith('jwt-svid:')).map(([k, o]) => [k.slice('jwt-svid:'.length), o.status]);
    const good = probe === 'live' ? live : notReady.length === 0;
    return {
      status: good ? 'OK' : 'Service Unavailable',
      health: { file_write_statuses: this.goWriteStatuses() },
      live,
      ready: notReady.length === 0,
      file_write_statuses: { x509_write_status: this.outputs.get(X509)?.status, jwt_write_status: Object.fromEntries(jwt) },
      x509_svid: this.svid && {
        spiffe_id: this.svid.spiffeId,
        serial: this.svid.serial,
        not_after: this.svid.notAfter.toISOString(),
        expired: this.svid.notAfter.getTime() <= now.getTime(),
      },
      not_ready: notReady.length > 0 ? notReady : undefined,
      last_error: [...this.problems.values()].at(-1),
    };
  }
}
