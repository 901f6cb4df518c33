/**
 * Certificates made by openssl, for what @peculiar/x509 (WebCrypto) cannot make: curves and key
 * types WebCrypto lacks (secp256k1, RSASSA-PSS keys, 512-bit RSA), RSA-PSS salt lengths, and
 * any extension written in openssl's config syntax (name constraints of every type, ...).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface OsslCert {
  der: Buffer;
  /** PKCS#8 DER. */
  keyDer: Buffer;
  /** For issuing: the PEM files. */
  certFile: string;
  keyFile: string;
}

const dir = mkdtempSync('/tmp/ossl-');
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const openssl = (args: string[]): Buffer => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });

/** `P-256`, `secp256k1`, ... (EC curves; `P-256:compressed` for a compressed public point), `rsa:<bits>`, `rsa-pss`, `ed25519`. */
export type OsslKey = string;

function generateKey(spec: OsslKey): string {
  const file = join(dir, `k${++n}.pem`);
  const [kind, form] = spec.split(':compressed') as [string, string | undefined];
  const [alg, opts] =
    kind === 'rsa-pss'
      ? ['RSA-PSS', ['rsa_keygen_bits:2048']]
      : kind.startsWith('rsa:')
        ? ['RSA', [`rsa_keygen_bits:${kind.slice(4)}`]]
        : kind === 'ed25519'
          ? ['ED25519', []]
          : ['EC', [`ec_paramgen_curve:${kind}`, 'ec_param_enc:named_curve']];
  openssl(['genpkey', '-algorithm', alg!, ...(opts as string[]).flatMap((o) => ['-pkeyopt', o]), '-out', file]);
  if (form !== undefined) openssl(['ec', '-in', file, '-conv_form', 'compressed', '-out', file]);
  return file;
}

export interface OsslOptions {
  name: string;
  key?: OsslKey;
  issuer?: OsslCert;
  /** Lines of openssl's x509v3 config (and further sections after them); none makes a v1 certificate. */
  ext?: string[];
  /** `-sha256` etc.; `none` for Ed25519 signers. */
  digest?: string;
  /** `-sigopt` values, e.g. `rsa_padding_mode:pss`. */
  sigopt?: string[];
}

export const CA_EXT = ['basicConstraints=critical,CA:true', 'keyUsage=critical,keyCertSign,cRLSign'];
export const leafExt = (san: string): string[] => ['basicConstraints=critical,CA:false', 'keyUsage=critical,digitalSignature', `subjectAltName=${san}`];

export function osslCert(o: OsslOptions): OsslCert {
  const keyFile = generateKey(o.key ?? 'P-256');
  const i = ++n;
  const config = join(dir, `c${i}.cnf`);
  writeFileSync(config, `[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nCN=${o.name}\n[v3]\n${(o.ext ?? []).join('\n')}\n`);
  const csr = join(dir, `r${i}.csr`);
  const certFile = join(dir, `c${i}.pem`);
  openssl(['req', '-new', '-key', keyFile, '-config', config, '-out', csr]);
  const signer = o.issuer ? ['-CA', o.issuer.certFile, '-CAkey', o.issuer.keyFile] : ['-signkey', keyFile];
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    ...signer,
    '-days',
    '2',
    '-set_serial',
    String(1000 + i),
    ...(o.digest === 'none' ? [] : [`-${o.digest ?? 'sha256'}`]),
    ...(o.sigopt ?? []).flatMap((s) => ['-sigopt', s]),
    ...(o.ext ? ['-extfile', config, '-extensions', 'v3'] : []),
    '-out',
    certFile,
  ]);
  const der = openssl(['x509', '-in', certFile, '-outform', 'DER']);
  const keyDer = openssl(['pkcs8', '-topk8', '-nocrypt', '-in', keyFile, '-outform', 'DER']);
  return { der, keyDer, certFile, keyFile };
}
