/**
 * The syntax of the names a certificate carries in its SANs and name constraints (RFC 5280
 * 4.2.1.6, 4.2.1.10), as far as Go's crypto/x509 checks it while parsing: a certificate whose
 * names break it cannot be loaded by Go at all (a bundle file holding one fails as a whole), so
 * such a certificate is refused whatever its place in the files. Each function returns why a
 * name is malformed, or undefined.
 */

/** RFC 3986 as Go's url.Parse reads it: no control character or space, valid %-escapes, a sound authority. */
export function uriProblem(uri: string): string | undefined {
  if ([...uri].some((c) => c <= ' ' || c === '\x7f')) return 'a control character or a space';
  if (/%(?![0-9a-f]{2})/i.test(uri)) return 'a % not followed by two hex digits';
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(uri)?.[1];
  if (authority === undefined) return undefined;
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  let host = hostPort;
  let port = '';
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close < 0) return "a host with '[' and no ']'";
    [host, port] = [hostPort.slice(0, close + 1), hostPort.slice(close + 1)];
  } else if (hostPort.includes(':')) {
    [host, port] = [hostPort.slice(0, hostPort.lastIndexOf(':')), hostPort.slice(hostPort.lastIndexOf(':'))];
  }
  if (port !== '' && !/^:[0-9]*$/.test(port)) return `the port ${JSON.stringify(port)}`;
  if (!host.startsWith('[') && !/^[A-Za-z0-9\-._~!$&'()*+,;=%"<>]*$/.test(host)) return 'a character a host name cannot hold';
  return domainValid(hostPort, false) ? undefined : 'an invalid host name (an empty label or a trailing dot)';
}

/** Labels of visible ASCII, none empty, no trailing dot; a constraint may start with a dot (Go's domainNameValid). */
export function domainValid(name: string, constraint: boolean): boolean {
  if (name === '') return true;
  if (name.endsWith('.')) return false;
  const body = constraint && name.startsWith('.') ? name.slice(1) : name;
  return body.split('.').every((label) => label.length > 0 && [...label].every((c) => c > ' ' && c <= '~'));
}

/** A mailbox constraint: an RFC 5321 local part (dot-atom or quoted string), `@`, a domain. */
export function mailboxValid(mailbox: string): boolean {
  const at = mailbox.lastIndexOf('@');
  const [local, domain] = [mailbox.slice(0, at), mailbox.slice(at + 1)];
  const dotAtom = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*$/;
  const quoted = /^"([\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"$/;
  return at > 0 && (dotAtom.test(local) || quoted.test(local)) && domain !== '' && domainValid(domain, false);
}

/** A netmask: ones, then zeros (an address and such a mask make a network). */
export function maskValid(mask: Buffer): boolean {
  let zeros = false;
  for (const byte of mask) {
    if (zeros ? byte !== 0 : byte !== 0xff && ![0x00, 0x80, 0xc0, 0xe0, 0xf0, 0xf8, 0xfc, 0xfe].includes(byte)) return false;
    if (byte !== 0xff) zeros = true;
  }
  return true;
}

/** Whether a URI constraint is an IP address (RFC 5280: it names a host or domain, never an address). */
export function isIpLiteral(text: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(text) || (text.includes(':') && /^[0-9a-f:.]+$/i.test(text));
}
