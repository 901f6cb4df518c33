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

/**
 * sun_path is 108 bytes on Linux, its NUL included. A longer path cannot be connected to; the
 * kernel's EINVAL at each retry would look like an agent that is not there.
 */
const MAX_SOCKET_PATH_BYTES = 107;

export function parseEndpointAddress(input: string): EndpointAddress {
  const fail = (why: string): never => {
    throw new HelperError('address', `workload endpoint address ${JSON.stringify(input)} is invalid: ${why} (use unix:///absolute/path, a bare /absolute/path, or tcp://IP:port)`);
  };
  // Both would otherwise end up in the socket path, invisible in logs, and the agent never found.
  if (input.trim() !== input) fail('it has whitespace around it (a space inside a unix: path is written %20)');
  const control = [...input].find((c) => c < ' ' || c === '\x7f');
  if (control !== undefined) fail(`it holds the control character ${JSON.stringify(control)}`);
  if (input.startsWith('/')) return unix(input, fail);
  const colon = input.indexOf(':');
  if (colon <= 0) return fail('no scheme');
  // RFC 3986 3.1: schemes are case-insensitive (Go's url.Parse lower-cases them too).
  const scheme = input.slice(0, colon).toLowerCase();
  if (scheme === 'unix') return parseUnix(input, fail);
  if (scheme === 'tcp') return parseTcp(input, fail);
  return fail(`scheme "${input.slice(0, colon)}" is not supported`);
}

function unix(path: string, fail: (why: string) => never): EndpointAddress {
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) fail(`the socket path is ${bytes} bytes long; a Unix socket path holds at most ${MAX_SOCKET_PATH_BYTES}`);
  if (path.endsWith('/')) fail('the socket path ends with "/": it names a directory, not a socket');
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
  return unix(percentDecode(rest, fail), fail);
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
  if (!input.slice('tcp:'.length).startsWith('//')) fail('tcp addresses must be tcp://IP:port');
  const rest = input.slice('tcp://'.length);
  if (/[/?#]/.test(rest)) fail('a path, query or fragment is not allowed');
  if (rest.includes('@')) fail('user info is not allowed');
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d+)$/.exec(rest);
  if (!m) {
    if (rest === '') return fail('the host is missing');
    if (/^[^[]*:.*:/.test(rest)) return fail('an IPv6 address must be in brackets, as in tcp://[::1]:port');
    return fail('the port is missing');
  }
  const bracketed = m[1] !== undefined;
  const host = m[1] ?? m[2]!;
  // RFC 3986 3.2.2: brackets hold an IPv6 address (RFC 6874 zones, %25eth0, are not supported: go-spiffe refuses them too).
  if (bracketed && host.includes('%')) fail(`an IPv6 zone ("${host.slice(host.indexOf('%'))}") is not supported`);
  if (isIP(host) !== (bracketed ? 6 : 4)) fail(bracketed ? `"[${host}]" must hold an IPv6 address` : `host "${host}" must be an IP address`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) fail(`port ${port} is out of range`);
  const ip = bracketed ? unmapped(host) : host;
  return { kind: 'tcp', host: ip, port, target: `${ip.includes(':') ? `[${ip}]` : ip}:${port}` };
}

/**
 * An IPv4-mapped IPv6 address (::ffff:127.0.0.1, in any spelling) as the IPv4 address it maps:
 * Go's net.Dial, hence go-spiffe, connects to it over IPv4, which works where IPv6 is off.
 */
function unmapped(ipv6: string): string {
  // WHATWG URL writes an IPv6 address in one canonical form: the mapped part as two hex groups.
  const m = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(new URL(`tcp://[${ipv6}]`).hostname);
  if (!m) return ipv6;
  const [high, low] = [Number.parseInt(m[1]!, 16), Number.parseInt(m[2]!, 16)];
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}
