/**
 * The PKCS#12 side of inspect: what a JVM will find in the keystore and the truststore. With
 * the password, the MAC is verified and everything is listed; without it, what the file shows
 * unencrypted is, and each thing that could not be checked is said.
 */
import { createPrivateKey, type X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import type { Config } from '../config/config.js';
import type { Password } from '../config/keystore-output.js';
import { describeError, isHelperError } from '../errors.js';
import { readPkcs12, type Pkcs12Contents } from '../keystore/read.js';
import { parseCertificate, type Certificate } from '../spiffe/certificate.js';
import { verifyChain } from '../spiffe/chain.js';
import { SpiffeId } from '../spiffe/id.js';
import { readBytes } from './files.js';
import type { InspectReport, StoreKeyReport, StoreReport, StoreTarget, TrustedCaReport } from './document.js';
import { chainReport, oneLine, spiffeUris, trustDomainOf } from './x509.js';

/**
 * The stores a config writes, with the passwords it names. A password the user running inspect
 * cannot read (often only the helper's user may) leaves that store inspected without it.
 */
export function configStoreTargets(config: Config, env: NodeJS.ProcessEnv): StoreTarget[] {
  const stores = config.x509?.stores;
  const at = (name: string): string => join(config.certDir, name);
  return [
    ...(stores?.keystore ? [{ kind: 'keystore' as const, file: at(stores.keystore.fileName), ...readPassword(stores.keystore.password, env), alias: stores.keystore.alias }] : []),
    ...(stores?.truststore ? [{ kind: 'truststore' as const, file: at(stores.truststore.fileName), ...readPassword(stores.truststore.password, env) }] : []),
  ];
}

function readPassword(password: Password, env: NodeJS.ProcessEnv): Pick<StoreTarget, 'password' | 'passwordUnreadable'> {
  try {
    password.load(env);
    return { password: password.reveal() };
  } catch (e) {
    if (!isHelperError(e, 'config')) throw e;
    return { passwordUnreadable: e.message };
  }
}

export async function inspectStores(targets: readonly StoreTarget[], report: InspectReport, now: Date): Promise<void> {
  const read = new Map<StoreTarget, Pkcs12Contents>();
  for (const t of targets) {
    const bytes = await readBytes(t.file, (m) => void report.problems.push(m));
    if (!bytes) continue;
    try {
      read.set(t, readPkcs12(bytes, t.password));
    } catch (e) {
      report.problems.push(`${t.file}: ${describeError(e)}`);
    }
  }
  // The keystore's chain is checked against the CAs a peer of the same config trusts.
  const anchors = [...read].filter(([t]) => t.kind === 'truststore').flatMap(([, c]) => c.trusted.map((e) => parseCertificate(Buffer.from(e.cert.raw))));
  for (const [t, contents] of read) report.stores.push(storeReport(t, contents, anchors, report, now));
}

function storeReport(t: StoreTarget, c: Pkcs12Contents, anchors: readonly Certificate[], report: InspectReport, now: Date): StoreReport {
  const problem = (m: string): void => void report.problems.push(`${t.file}: ${m}`);
  const warn = (m: string): void => void report.warnings.push(`${t.file}: ${m}`);
  const locked = t.password === undefined;
  const r: StoreReport = {
    file: t.file,
    kind: t.kind,
    integrity: !c.mac ? 'none: the file has no MAC' : c.mac.verified ? `verified (HMAC-${c.mac.digest.toUpperCase()}, ${c.mac.iterations} iterations)` : 'not checked: needs the password',
    keys: c.keys.map((k) => keyReport(k, anchors, problem, now)),
    trusted: c.trusted.map((e) => caReport(e.alias, e.cert, now)),
    unchecked: c.unchecked,
    ...(t.passwordUnreadable !== undefined ? { password_unreadable: t.passwordUnreadable } : {}),
  };
  const why = t.passwordUnreadable !== undefined ? ` (${t.passwordUnreadable})` : '';
  if (locked) warn(`without the password${why}, not checked: ${c.unchecked.join('; ')}`);
  if (t.kind === 'keystore') {
    if (c.keys.length === 0) problem('no private key entry: a JVM server would have no certificate to present');
    const aliases = c.keys.map((k) => k.alias);
    if (t.alias !== undefined && c.keys.length > 0 && !aliases.includes(t.alias)) problem(`no key entry has the alias "${t.alias}" (found: ${aliases.map((a) => a ?? '(none)').join(', ')})`);
    if (c.trusted.length > 0) warn(`${c.trusted.length} trusted certificate entries in a keystore: Java may ignore them (the helper writes them to the truststore)`);
  } else {
    if (!locked && c.trusted.length === 0) problem('no trusted certificate entry: a JVM would trust no peer (a certificate without the TrustedKeyUsage attribute is not loaded as trusted)');
    if (c.keys.length > 0) warn(`${c.keys.length} private key entries in a truststore`);
    const expired = r.trusted.filter((e) => e.expired).length;
    if (expired > 0) warn(`${expired} of ${r.trusted.length} trusted CA certificates have expired`);
  }
  return r;
}

function keyReport(k: Pkcs12Contents['keys'][number], anchors: readonly Certificate[], problem: (m: string) => void, now: Date): StoreKeyReport {
  const name = `key entry "${k.alias ?? '(no alias)'}"`;
  const r: StoreKeyReport = { ...(k.alias !== undefined ? { alias: k.alias } : {}), chain: k.chain.map((c) => oneLine(c.subject)), key_matches: null };
  const leaf = k.chain[0];
  if (!leaf) {
    if (k.keyDer) problem(`${name}: no certificate goes with the key`);
    return r;
  }
  const parsed = parseCertificate(Buffer.from(leaf.raw));
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  Object.assign(r, {
    serial: leaf.serialNumber,
    not_before: notBefore.toISOString(),
    not_after: notAfter.toISOString(),
    seconds_left: Math.round((notAfter.getTime() - now.getTime()) / 1000),
    expired: notAfter.getTime() <= now.getTime(),
  });
  const uris = spiffeUris(parsed);
  if (uris.length === 1) {
    try {
      r.spiffe_id = SpiffeId.parse(uris[0]!).toString();
    } catch (e) {
      problem(`${name}: the URI SAN is not a valid SPIFFE ID: ${(e as Error).message}`);
    }
  } else problem(`${name}: the certificate has ${uris.length} SPIFFE URI SANs; an X.509-SVID has exactly one`);
  if (r.expired) problem(`${name}: the certificate expired at ${r.not_after}`);
  if (notBefore.getTime() > now.getTime()) problem(`${name}: the certificate is not valid before ${r.not_before}`);
  if (k.keyDer) {
    try {
      r.key_matches = leaf.checkPrivateKey(createPrivateKey({ key: k.keyDer, format: 'der', type: 'pkcs8' }));
    } catch (e) {
      problem(`${name}: the private key cannot be read (${(e as Error).message})`);
    }
    if (r.key_matches === false) problem(`${name}: the private key does not match its certificate`);
  }
  if (anchors.length > 0) {
    const verdict = verifyChain(
      k.chain.map((c) => parseCertificate(Buffer.from(c.raw))),
      anchors,
      now,
    );
    r.chain_verified = chainReport(verdict);
    if (!verdict.ok) problem(`${name}: the chain does not verify against the truststore: ${verdict.detail} [${verdict.reason}]`);
  }
  return r;
}

function caReport(alias: string | undefined, cert: X509Certificate, now: Date): TrustedCaReport {
  const notAfter = new Date(cert.validTo);
  const td = trustDomainOf(parseCertificate(Buffer.from(cert.raw)));
  return {
    ...(alias !== undefined ? { alias } : {}),
    subject: oneLine(cert.subject),
    ...(td !== undefined ? { trust_domain: td } : {}),
    not_after: notAfter.toISOString(),
    expired: notAfter.getTime() <= now.getTime(),
  };
}
