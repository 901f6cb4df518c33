/**
 * Errors are values: a stable code that scripts and tests can match, and a message that
 * tells a person what to fix. The CLI maps codes to documented exit codes in one place.
 */
export type ErrorCode =
  | 'usage' // bad command line
  | 'config' // bad config file, key or value
  | 'address' // bad Workload API endpoint address
  | 'spiffe-id' // malformed SPIFFE ID
  | 'x509svid' // X.509-SVID failed validation
  | 'x509bundle' // X.509 bundle failed validation
  | 'jwtsvid' // JWT-SVID failed validation
  | 'jwtbundle' // JWT bundle failed validation
  | 'workload-api' // the agent refused the call in a way retrying cannot fix
  | 'unavailable' // the agent could not be reached or issued no identity (retryable)
  | 'timeout' // gave up waiting (one-shot)
  | 'output' // a file could not be written
  | 'busy' // another helper writes the same cert_dir
  | 'child' // the child command could not be started
  | 'health' // health listener could not start
  | 'internal';

export class HelperError extends Error {
  override readonly name = 'HelperError';
  /**
   * Why an update from the agent was refused, as a stable snake_case word (`chain_untrusted`,
   * `not_yet_valid`, `too_large`, ...): the `reason` label of the refused-updates metric.
   * Defaults to the code.
   */
  readonly reason: string;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; reason?: string },
  ) {
    super(message, options);
    this.reason = options?.reason ?? code.replace(/-/g, '_');
  }
}

export function isHelperError(e: unknown, code?: ErrorCode): e is HelperError {
  return e instanceof HelperError && (code === undefined || e.code === code);
}

/** A short, single-line description of any thrown value, for logs and CLI output. */
export function describeError(e: unknown): string {
  if (e instanceof Error) {
    const cause = e.cause !== undefined ? `: ${describeError(e.cause)}` : '';
    return `${e.message}${cause}`;
  }
  return String(e);
}

/** Exit codes of the `spiffe-helper` command, every one of them. Documented in README.md ("Exit codes"). */
export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  config: 3,
  timeout: 4,
  workloadApi: 5,
  output: 6,
  child: 7,
  health: 8,
  /** `spiffe-helper inspect` found a problem in the files (each one is listed). */
  inspectProblem: 9,
  busy: 10,
  /** A one-shot command stopped by SIGINT (Ctrl-C) or SIGTERM: 128 + the signal's number, as shells report it. */
  interrupted: 130,
  terminated: 143,
} as const;

export function exitCodeForStop(sig: 'SIGINT' | 'SIGTERM'): number {
  return sig === 'SIGINT' ? ExitCode.interrupted : ExitCode.terminated;
}

/** The exit code of each error code, by its name in ExitCode. */
export const exitCodeOfError: Readonly<Record<ErrorCode, keyof typeof ExitCode>> = {
  usage: 'usage',
  config: 'config',
  address: 'config',
  timeout: 'timeout',
  unavailable: 'timeout',
  'workload-api': 'workloadApi',
  'spiffe-id': 'workloadApi',
  x509svid: 'workloadApi',
  x509bundle: 'workloadApi',
  jwtsvid: 'workloadApi',
  jwtbundle: 'workloadApi',
  output: 'output',
  child: 'child',
  health: 'health',
  busy: 'busy',
  internal: 'internal',
};

export function exitCodeFor(e: unknown): number {
  return ExitCode[e instanceof HelperError ? exitCodeOfError[e.code] : 'internal'];
}
