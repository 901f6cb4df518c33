import { isIP } from 'node:net';
import { HelperError } from '../errors.js';

/**
 * Workload API endpoint addresses (SPIFFE_Workload_Endpoint.md): RFC 3986 URIs, so a unix
 * socket path is percent-decoded (`unix:///run/a%20b.sock` names `/run/a b.sock`), as
 * go-spiffe's url.Parse does. Plus the bare absolute path that Go spiffe-helper users write
 * in `agent_address`: a file name, not a URI, taken literally. grpc-js cannot resolve a bare
 * path (it tries DNS), so every accepted form becomes an explicit grpc target.
 */
export type EndpointAddress = { kind: 'unix'; socketPath: string; target: string } | { kind: 'tcp'; host: string; port: number; target: string };

/** The variable by which the SPIFFE Workload Endpoint standard names the endpoint. */
export const ENDPOINT_ENV = 'SPIFFE_ENDPOINT_SOCKET';

export function parseEndpointAddress(input: string): EndpointAddress {
  const fail = (why: string): never => {
    throw new HelperError('address', `workload endpoint address ${JSON.stringify(input)} is invalid: ${why} (use unix:///absolute/path, a bare /absolute/path, or tcp://IP:port)`);
  };
  if (input.startsWith('/')) return unix(input);
  const colon = input.indexOf(':');
  if (colon <= 0) return fail('no scheme');
  const scheme = input.slice(0, colon);
  if (scheme === 'unix') return parseUnix(input, fail);
  if (scheme === 'tcp') return parseTcp(input, fail);
  return fail(`scheme "${scheme}" is not supported`);
}

function unix(path: string): EndpointAddress {
  return { kind: 'unix', socketPath: path, target: `unix://${path}` };
}

function parseUnix(input: string, fail: (why: string) => never): EndpointAddress {
  if (input.includes('?')) fail('a query is not allowed');
  if (input.includes('#')) fail('a fragment is not allowed');
  let rest = input.slice('unix:'.length);
  if (rest.startsWith('//')) {
    rest = rest.slice(2);
    const slash = rest.indexOf('/');
    const authority = slash === -1 ? rest : rest.slice(0, slash);
    if (authority.includes('@')) fail('user info is not allowed');
    if (authority !== '') fail('an authority (host) is not allowed');
    rest = slash === -1 ? '' : rest.slice(slash);
  }
  if (rest === '' || rest === '/') fail('the socket path is missing');
  if (!rest.startsWith('/')) fail('the socket path must be absolute');
  return unix(percentDecode(rest, fail));
}

/** RFC 3986 2.1: `%` and two hex digits is one byte; the bytes are UTF-8 (RFC 3986 2.5). */
function percentDecode(path: string, fail: (why: string) => never): string {
  const bad = /%(?![0-9A-Fa-f]{2})/.exec(path);
  if (bad) fail(`invalid percent-encoding ${JSON.stringify(path.slice(bad.index, bad.index + 3))} in the socket path`);
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return fail('the percent-encoded socket path is not UTF-8');
  }
  // A NUL would silently truncate the path the kernel sees.
  if (decoded.includes('\0')) fail('the socket path holds a NUL byte (%00)');
  return decoded;
}

function parseTcp(input: string, fail: (why: string) => never): EndpointAddress {
  if (!input.startsWith('tcp://')) fail('tcp addresses must be tcp://IP:port');
  const rest = input.slice('tcp://'.length);
  if (/[/?#]/.test(rest)) fail('a path, query or fragment is not allowed');
  if (rest.includes('@')) fail('user info is not allowed');
  const m = /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(rest);
  if (!m) return fail(rest === '' ? 'the host is missing' : 'the port is missing');
  const host = m[1]!.replace(/^\[|\]$/g, '');
  if (!isIP(host)) fail(`host "${host}" must be an IP address`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) fail(`port ${port} is out of range`);
  const hostForTarget = host.includes(':') ? `[${host}]` : host;
  return { kind: 'tcp', host, port, target: `${hostForTarget}:${port}` };
}
