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

/** Causes followed at most: a real chain is a few deep; a cycle or a runaway chain stops here. */
const MAX_CAUSES = 8;

/**
 * A short description of any thrown value, for logs and CLI output: the message, then each
 * cause its wrapper does not already quote. It returns for every value (a cause cycle, an
 * object whose toString throws), since a throw here would lose the error being reported.
 */
export function describeError(e: unknown): string {
  let text = describeOne(e);
  const seen = new Set<unknown>([e]);
  for (let at = e; at instanceof Error && at.cause !== undefined && !seen.has(at.cause) && seen.size <= MAX_CAUSES; at = at.cause) {
    seen.add(at.cause);
    const cause = describeOne(at.cause);
    if (!text.includes(cause)) text += `: ${cause}`;
  }
  return text;
}

/** One value without its causes; an AggregateError (Node's connect to every address of a name) by what it holds. */
function describeOne(e: unknown): string {
  if (e instanceof AggregateError && Array.isArray(e.errors) && e.errors.length > 0) {
    const inner = e.errors.slice(0, 4).map(messageOf).join('; ') + (e.errors.length > 4 ? `; and ${e.errors.length - 4} more` : '');
    return e.message ? `${printable(e.message)} (${inner})` : inner;
  }
  return messageOf(e);
}

function messageOf(e: unknown): string {
  const message = typeof e === 'object' && e !== null ? (e as { message?: unknown }).message : undefined;
  return typeof message === 'string' ? message : printable(e);
}

function printable(v: unknown): string {
  try {
    return String(v);
  } catch {
    try {
      return Object.prototype.toString.call(v);
    } catch {
      return 'an unprintable value';
    }
  }
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
