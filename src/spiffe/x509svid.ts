import { HelperError } from '../errors.js';
import { parseCertificates, type Certificate } from './certificate.js';
import { TooManyElements } from './der.js';
import { parseSvidId, type SpiffeId } from './id.js';
import { LIMITS } from './limits.js';
import { privateKeyMatches } from './private-key.js';

/**
 * An X.509-SVID whose chain and key were checked against X509-SVID.md. A value of this type
 * exists only for a chain that passed validation.
 */
export interface X509Svid {
  readonly id: SpiffeId;
  /** Leaf first, then intermediates. */
  readonly certificates: readonly Certificate[];
  /** The unencrypted PKCS#8 DER, exactly as the agent sent it. */
  readonly keyDer: Buffer;
  readonly hint: string;
  readonly notAfter: Date;
  readonly serial: string;
}

export interface RawX509Svid {
  spiffeId: string;
  chainDer: Uint8Array;
  keyDer: Uint8Array;
  hint: string;
}

export function parseX509Svid(raw: RawX509Svid, now: Date = new Date()): X509Svid {
  const fail = (msg: string): never => {
    throw new HelperError('x509svid', `x509svid ${JSON.stringify(raw.spiffeId)}: ${msg}`);
  };
  const certificates = parseCertificates(raw.chainDer, `x509svid ${JSON.stringify(raw.spiffeId)}: chain`, 'x509svid', LIMITS.chainCertificates);
  const leaf = certificates[0] ?? fail('certificate chain is empty');

  const ext = leaf.extensions;
  if (ext.uris.length !== 1) fail(`leaf certificate must have exactly one URI SAN, has ${ext.uris.length}`);
  let id: SpiffeId;
  try {
    id = parseSvidId(ext.uris[0]!);
  } catch (e) {
    return fail(`leaf certificate URI SAN is not a valid SPIFFE ID: ${(e as Error).message}`);
  }
  if (raw.spiffeId !== id.toString()) fail(`leaf certificate is for ${id}, the response says ${raw.spiffeId}`);
  if (ext.basicConstraintsCA) fail('leaf certificate must not have CA flag set to true');
  if (!ext.keyUsage) fail('leaf certificate has no key usage extension');
  if (!ext.keyUsage!.digitalSignature) fail('leaf certificate must have digitalSignature key usage');
  if (ext.keyUsage!.keyCertSign) fail('leaf certificate must not have keyCertSign key usage');
  if (ext.keyUsage!.cRLSign) fail('leaf certificate must not have cRLSign key usage');
  const notAfter = leaf.notAfter;
  if (notAfter.getTime() <= now.getTime()) fail(`leaf certificate expired at ${notAfter.toISOString()}`);

  certificates.slice(1).forEach((cert, i) => {
    const e = cert.extensions;
    if (!e.basicConstraintsCA) fail(`intermediate certificate ${i + 1} is not a CA`);
    if (!e.keyUsage?.keyCertSign) fail(`intermediate certificate ${i + 1} must have keyCertSign key usage`);
  });

  const keyDer = Buffer.from(raw.keyDer);
  let matches: boolean;
  try {
    matches = privateKeyMatches(keyDer, leaf.publicKey, leaf.raw);
  } catch (e) {
    if (e instanceof TooManyElements) throw e;
    return fail(`private key is not unencrypted PKCS#8 DER (${(e as Error).message})`);
  }
  if (!matches) fail('private key does not match the leaf certificate');

  return { id, certificates, keyDer, hint: raw.hint, notAfter, serial: leaf.serial };
}
