/**
 * File name patterns with a `{trust_domain}` placeholder: one file per trust domain
 * (federated_bundle_file_name, jwt_bundle_file_name with jwt_bundle_format = "jwks").
 * Such files are found again, to read or to delete as stale, by matching the pattern: the
 * rules below keep that from ever matching a file it should not.
 */
import { basename, dirname, join } from 'node:path';
import { fileIdentity, nameProblem, outputPath } from '../output/names.js';
import { TrustDomain } from '../spiffe/id.js';
import type { Config } from './config.js';
import type { TopLevelReader } from './keys.js';

/**
 * The trust domain that `name` stands for under `pattern`, or undefined unless `name` is
 * exactly a name the helper would write: the part in place of `{trust_domain}` is a valid
 * trust domain name and the whole passes the output-name rules. Whatever else merely shares
 * the prefix and suffix (`federated_NOTES.pem`, `federated_a b.pem`) is not the helper's.
 */
export function trustDomainInFileName(name: string, pattern: string): string | undefined {
  const [prefix, suffix] = pattern.split('{trust_domain}') as [string, string];
  if (!name.startsWith(prefix) || !name.endsWith(suffix) || name.length <= prefix.length + suffix.length) return undefined;
  const td = name.slice(prefix.length, name.length - suffix.length);
  return isTrustDomainName(td) && nameProblem(name) === undefined ? td : undefined;
}

function isTrustDomainName(td: string): boolean {
  try {
    return TrustDomain.parse(td).name === td;
  } catch {
    return false;
  }
}

/**
 * The trust domains of `trustDomains` that get a per-domain file under `pattern`, with their
 * names, and why the others get none. Trust domain names come from the agent and are valid
 * SPIFFE names, yet some make bad file names (`..`, reserved `..data`-like names, too long):
 * such a domain gets no file. Its name is a partner's choice, and refusing the whole update
 * would stop the workload's own rotation over it.
 */
export function perDomainFiles(pattern: string, trustDomains: readonly string[]): { named: [string, string][]; unnamed: string[] } {
  const named: [string, string][] = [];
  const unnamed: string[] = [];
  for (const td of trustDomains) {
    const name = pattern.replace('{trust_domain}', td);
    const problem = nameProblem(name);
    if (problem === undefined) named.push([td, name]);
    else unnamed.push(`trust domain "${td}" would be written as ${JSON.stringify(name)}, which ${problem}`);
  }
  return { named, unnamed };
}

/**
 * `{trust_domain}` exactly once (a file is written by replacing it and found again by the text
 * around it: with two, the two would disagree), and a prefix or suffix, by which stale
 * per-domain files are found and deleted.
 */
function isPerDomainPattern(pattern: string): boolean {
  return pattern.split('{trust_domain}').length === 2 && pattern !== '{trust_domain}';
}

export function checkFederatedPattern(r: TopLevelReader, pattern: string | undefined): void {
  if (pattern !== undefined && !isPerDomainPattern(pattern)) {
    throw r.error('federated_bundle_file_name', 'must contain {trust_domain} once and a prefix or suffix, e.g. "federated_{trust_domain}.pem"');
  }
}

/**
 * `jwks` writes one file per trust domain; it needs the placeholder exactly then.
 */
export function checkJwtBundleFormat(r: TopLevelReader, config: Config): void {
  const pattern = config.jwtBundleFileName;
  const key = 'jwt_bundle_file_name';
  if (config.jwtBundleFormat === 'go-helper') {
    if (pattern?.includes('{trust_domain}')) throw r.error(key, '{trust_domain} is only replaced with jwt_bundle_format = "jwks"');
    return;
  }
  if (pattern === undefined) throw r.error('jwt_bundle_format', 'is "jwks" but jwt_bundle_file_name is not set');
  if (pattern.includes('/'))
    throw r.error(key, 'with jwt_bundle_format = "jwks" must be a plain file name in cert_dir, not a path: its per-trust-domain files are found (and removed when a domain goes) there');
  if (!isPerDomainPattern(pattern)) {
    throw r.error(key, 'with jwt_bundle_format = "jwks" must contain {trust_domain} once, with a prefix or suffix, e.g. "jwt_bundle_{trust_domain}.json"');
  }
}

/**
 * Per-trust-domain outputs delete the files of domains that go away, found by the pattern's
 * prefix and suffix: no other output (`names`, every configured output name) may match a
 * pattern, or it would be deleted as stale.
 */
export function checkPerDomainPatterns(r: TopLevelReader, config: Config, names: readonly string[]): void {
  const patterns: [string, string][] = [];
  if (config.x509?.federatedBundleFileName) patterns.push(['federated_bundle_file_name', config.x509.federatedBundleFileName]);
  if (config.jwtBundleFormat === 'jwks' && config.jwtBundleFileName) patterns.push(['jwt_bundle_file_name', config.jwtBundleFileName]);
  // The per-domain files live in cert_dir: what counts is every output landing there, however its name is spelled.
  const certDir = dirname(fileIdentity(join(config.certDir, 'x')));
  const inCertDir = names
    .map((n) => ({ n, file: fileIdentity(outputPath(config.certDir, n)) }))
    .filter(({ file }) => dirname(file) === certDir)
    .map(({ n, file }) => ({ n, base: basename(file) }));
  for (const [key, pattern] of patterns) {
    const clash = inCertDir.find(({ base }) => trustDomainInFileName(base, pattern) !== undefined)?.n;
    if (clash) throw r.error(key, `pattern ${JSON.stringify(pattern)} also matches "${clash}", which would be deleted as a stale per-trust-domain file`);
  }
  if (patterns.length === 2) {
    const [[, a], [key, b]] = patterns as [[string, string], [string, string]];
    const [p1, s1] = a.split('{trust_domain}') as [string, string];
    const [p2, s2] = b.split('{trust_domain}') as [string, string];
    if ((p1.startsWith(p2) || p2.startsWith(p1)) && (s1.endsWith(s2) || s2.endsWith(s1))) {
      throw r.error(key, `pattern ${JSON.stringify(b)} overlaps federated_bundle_file_name ${JSON.stringify(a)}: give them different prefixes or suffixes`);
    }
  }
}
