import { execFileSync } from 'node:child_process';

/** Checks with openssl (a tool nobody here wrote) that the helper's files are consistent. */
export function opensslVerify(bundle: string, svid: string): string {
  return execFileSync('openssl', ['verify', '-CAfile', bundle, '-untrusted', svid, svid], { encoding: 'utf8' });
}

/** The public key of the private key file and of the certificate, as openssl prints them. */
export function opensslPublicKeys(key: string, cert: string): { fromKey: string; fromCert: string } {
  return {
    fromKey: execFileSync('openssl', ['pkey', '-in', key, '-pubout'], { encoding: 'utf8' }),
    fromCert: execFileSync('openssl', ['x509', '-in', cert, '-pubkey', '-noout'], { encoding: 'utf8' }),
  };
}

export function opensslUriSan(cert: string): string {
  const text = execFileSync('openssl', ['x509', '-in', cert, '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' });
  return /URI:(\S+)/.exec(text)?.[1] ?? '';
}
