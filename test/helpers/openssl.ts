import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Checks with openssl (a tool nobody here wrote) that the helper's files are consistent.
 * openssl opens the chain file twice (-untrusted, then the leaf): while the helper rotates, the
 * two reads could pair one leaf with the previous chain's CA (a CA rotation made a clean-clone
 * run fail so). Each file is read once, the SVID first: the bundle gains a CA before the CA
 * signs, so a bundle read later still verifies it.
 */
export function opensslVerify(bundle: string, svid: string): string {
  const copy = mkdtempSync(join(tmpdir(), 'ov-'));
  try {
    const chain = join(copy, 'svid.pem');
    writeFileSync(chain, readFileSync(svid));
    writeFileSync(join(copy, 'bundle.pem'), readFileSync(bundle));
    return execFileSync('openssl', ['verify', '-CAfile', join(copy, 'bundle.pem'), '-untrusted', chain, chain], { encoding: 'utf8' }).replaceAll(chain, svid);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

/**
 * The public key of the private key file and of the certificate, as openssl prints them. Both
 * files are read first, back to back: two openssl runs reading them tens of milliseconds apart
 * widened the window in which a rotation of the `files` layout pairs them wrongly.
 */
export function opensslPublicKeys(key: string, cert: string): { fromKey: string; fromCert: string } {
  const [certPem, keyPem] = [readFileSync(cert), readFileSync(key)];
  return {
    fromKey: execFileSync('openssl', ['pkey', '-pubout'], { input: keyPem, encoding: 'utf8' }),
    fromCert: execFileSync('openssl', ['x509', '-pubkey', '-noout'], { input: certPem, encoding: 'utf8' }),
  };
}

export function opensslUriSan(cert: string): string {
  const text = execFileSync('openssl', ['x509', '-in', cert, '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' });
  return /URI:(\S+)/.exec(text)?.[1] ?? '';
}
