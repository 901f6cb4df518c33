import { join, resolve } from 'node:path';
import { describeError } from '../errors.js';
import { parseJwtBundleFile } from '../spiffe/jwt-bundle-file.js';
import { TrustDomain } from '../spiffe/id.js';
import type { JwtBundle, JwtBundleSet } from '../spiffe/jwtbundle.js';
import { decodeJwtSegment, numericDate, parseAndValidateJwtSvid } from '../spiffe/jwtsvid.js';
import { federatedFiles, readText, trustDomainOfFile } from './files.js';
import type { InspectReport, JwtSvidReport, Targets } from './document.js';

/** Reads the JWT bundle file(s) into the report; returns every bundle read, to check tokens with. */
export async function inspectJwtBundles(t: NonNullable<Targets['jwtBundle']>, certDir: string, report: InspectReport): Promise<JwtBundleSet | undefined> {
  const problem = (m: string): void => void report.problems.push(m);
  const merged = new Map<string, JwtBundle>();
  const files = t.pattern ? (await federatedFiles(certDir, t.file)).map((f) => ({ f, td: trustDomainOfFile(f, t.file) })) : [{ f: resolve(certDir, t.file), td: undefined }];
  if (t.pattern && files.length === 0) problem(`${join(certDir, t.file)}: no JWT bundle file matches the pattern`);
  for (const { f, td } of files) {
    const text = await readText(f, problem);
    if (text === undefined) continue;
    try {
      const set = parseJwtBundleFile(text, f, td === undefined ? undefined : TrustDomain.parse(td));
      report.jwt_bundles.push({ file: f, trust_domains: Object.fromEntries([...set].map(([name, b]) => [name, b.keys.size])) });
      for (const [name, b] of set) merged.set(name, b);
      for (const b of set.values()) for (const why of b.ignored) report.warnings.push(`${f}: trust domain "${b.trustDomain.name}": ${why} (ignored)`);
    } catch (e) {
      problem(`${f}: ${describeError(e)}`);
    }
  }
  return merged.size > 0 ? merged : undefined;
}

/**
 * Shows what the token says even when it is expired or its signature does not verify, which
 * parseAndValidateJwtSvid would refuse outright; that is then run for the signature alone.
 */
export async function inspectJwtSvid(t: Targets['jwtSvids'][number], bundles: JwtBundleSet | undefined, report: InspectReport, now: Date): Promise<JwtSvidReport> {
  const problem = (m: string): void => void report.problems.push(m);
  const out: JwtSvidReport = { file: t.file, signature: 'not checked: no JWT bundle file' };
  const text = await readText(t.file, problem);
  if (text === undefined) return { ...out, signature: 'not checked: file unreadable' };
  const token = text.trim();
  const parts = token.split('.');
  const header = parts.length === 3 ? decodeJwtSegment(parts[0]!) : undefined;
  const claims = parts.length === 3 ? decodeJwtSegment(parts[1]!) : undefined;
  if (!header || !claims) {
    problem(`${t.file}: not a JWT (expected three base64url JSON parts)`);
    return { ...out, signature: 'not checked: not a JWT' };
  }
  out.alg = typeof header['alg'] === 'string' ? header['alg'] : undefined;
  out.kid = typeof header['kid'] === 'string' ? header['kid'] : undefined;
  if (typeof claims['sub'] === 'string') out.spiffe_id = claims['sub'];
  const aud = claims['aud'];
  out.audience = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
  const iat = numericDate(claims['iat']);
  if (iat) out.issued_at = iat.toISOString();
  const exp = numericDate(claims['exp']);
  if (exp) {
    out.expiry = exp.toISOString();
    out.seconds_left = Math.round((exp.getTime() - now.getTime()) / 1000);
    out.expired = out.seconds_left <= 0;
    if (out.expired) problem(`${t.file}: the token expired at ${out.expiry}`);
  } else {
    problem(`${t.file}: the token has no "exp" claim that is a date`);
  }
  if (t.audience !== undefined && !out.audience.includes(t.audience)) problem(`${t.file}: the token's audience ${JSON.stringify(out.audience)} lacks the configured "${t.audience}"`);
  if (bundles) {
    try {
      // Expiry is reported above; the signature is what is checked here.
      parseAndValidateJwtSvid(token, { audience: t.audience ?? out.audience[0] ?? '', bundles, now, ignoreTimes: out.expired === true });
      out.signature = 'verified';
    } catch (e) {
      out.signature = describeError(e);
      problem(`${t.file}: ${out.signature}`);
    }
  }
  return out;
}
