import { HelperError } from '../errors.js';

/**
 * SPIFFE IDs and trust domains (SPIFFE-ID.md). Parsing is validation: a `SpiffeId` value
 * exists only for a well-formed ID. The rules are the strict ones go-spiffe applies.
 */
const MAX_ID_BYTES = 2048;
const tdChars = /^[a-z0-9._-]+$/;
const segChars = /^[a-zA-Z0-9._-]+$/;

export class TrustDomain {
  private constructor(readonly name: string) {}

  /** Accepts a bare name (`example.org`) or a trust domain ID (`spiffe://example.org`). */
  static parse(input: string): TrustDomain {
    if (input.startsWith('spiffe://')) {
      const id = SpiffeId.parse(input);
      return id.trustDomain;
    }
    if (input === '') throw idError('trust domain is missing');
    if (!tdChars.test(input)) {
      throw idError(`trust domain ${JSON.stringify(input)} has a character other than lower-case letters, digits, '.', '_' or '-'`);
    }
    return new TrustDomain(input);
  }

  /** `spiffe://<name>`: the key the Workload API uses for bundle maps. */
  get id(): string {
    return `spiffe://${this.name}`;
  }

  toString(): string {
    return this.name;
  }
}

export class SpiffeId {
  private constructor(
    readonly trustDomain: TrustDomain,
    readonly path: string,
  ) {}

  static parse(input: string): SpiffeId {
    if (input === '') throw idError('SPIFFE ID is empty');
    if (Buffer.byteLength(input) > MAX_ID_BYTES) throw idError(`SPIFFE ID is longer than ${MAX_ID_BYTES} bytes`);
    const scheme = 'spiffe://';
    if (!input.startsWith(scheme)) {
      throw idError(`${JSON.stringify(input)} is not a SPIFFE ID: scheme must be "spiffe://"`);
    }
    const rest = input.slice(scheme.length);
    const slash = rest.indexOf('/');
    const td = slash === -1 ? rest : rest.slice(0, slash);
    const path = slash === -1 ? '' : rest.slice(slash);
    if (td === '') throw idError(`${JSON.stringify(input)}: trust domain is missing`);
    if (!tdChars.test(td)) {
      throw idError(`${JSON.stringify(input)}: trust domain may hold only lower-case letters, digits, '.', '_' and '-' (no port, user info or percent-encoding)`);
    }
    if (path !== '') validatePath(input, path);
    return new SpiffeId(TrustDomain.parse(td), path);
  }

  /** True when this ID names a workload rather than a whole trust domain. */
  get hasPath(): boolean {
    return this.path !== '';
  }

  equals(other: SpiffeId): boolean {
    return this.toString() === other.toString();
  }

  toString(): string {
    return `spiffe://${this.trustDomain.name}${this.path}`;
  }
}

function validatePath(input: string, path: string): void {
  const segments = path.slice(1).split('/');
  for (const seg of segments) {
    if (seg === '') {
      throw idError(`${JSON.stringify(input)}: path has an empty segment or a trailing slash`);
    }
    if (seg === '.' || seg === '..') throw idError(`${JSON.stringify(input)}: path has a dot segment`);
    if (!segChars.test(seg)) {
      throw idError(`${JSON.stringify(input)}: path may hold only letters, digits, '.', '_' and '-' (no query, fragment or percent-encoding)`);
    }
  }
}

function idError(message: string): HelperError {
  return new HelperError('spiffe-id', message);
}

/** The identity of an SVID: a SPIFFE ID with a path (a trust domain ID names no workload). */
export function parseSvidId(input: string): SpiffeId {
  const id = SpiffeId.parse(input);
  if (!id.hasPath) throw idError(`${id} has no path (trust domain IDs cannot be SVIDs)`);
  return id;
}
