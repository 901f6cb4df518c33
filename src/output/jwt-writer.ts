/**
 * JWT-SVID and JWT bundle files. Each write is atomic; each remembers what it last wrote,
 * so that an identical update (bundles are re-sent; a token can be re-issued unchanged)
 * rewrites nothing.
 */
import { basename, join } from 'node:path';
import type { Config } from '../config/config.js';
import { perDomainFiles } from '../config/trust-domain-pattern.js';
import type { Logger } from '../log.js';
import { jwtBundleToJwks, sortedTrustDomains, type JwtBundleSet } from '../spiffe/jwtbundle.js';
import type { JwtSvid } from '../spiffe/jwtsvid.js';
import { writeFilesAtomic, type FileContent, type WriteGuard } from './atomic-write.js';
import { cleanUpAfterWrite, removeStaleFederatedFiles } from './cleanup.js';
import { outputPath } from './names.js';

export type JwtOutput = Pick<Config, 'certDir' | 'jwtSvidFileMode' | 'jwtBundleFileName' | 'jwtBundleFileMode' | 'jwtBundleFormat'>;

/** `files`: the names, as configured (relative to cert_dir or absolute), of the files now holding the content, rewritten or not. */
export interface JwtWriteResult {
  changed: boolean;
  files: string[];
}

export class JwtWriter {
  private readonly lastToken = new Map<string, string>();
  private lastBundle: string | undefined;
  /** What was last said about trust domains without a JWKS file: said again only when it changes. */
  private unnamedSaid = '';

  constructor(
    private readonly out: JwtOutput,
    private readonly log: Logger,
    /** The cert_dir lock's, for every write (atomic-write.ts). */
    private readonly guard?: WriteGuard,
  ) {}

  /** The raw token text, as the Go helper writes it (no trailing newline). */
  async writeSvid(fileName: string, svid: JwtSvid): Promise<JwtWriteResult> {
    const path = outputPath(this.out.certDir, fileName);
    const fields = { spiffe_id: svid.id.toString(), audience: svid.audience.join(','), expiry: svid.expiry.toISOString(), file: fileName };
    if (this.lastToken.get(path) === svid.token) {
      this.log.debug('jwt svid unchanged; nothing written', fields);
      return { changed: false, files: [fileName] };
    }
    await writeFilesAtomic([{ path, data: svid.token, mode: this.out.jwtSvidFileMode }], this.guard);
    this.lastToken.set(path, svid.token);
    this.log.info('jwt svid written', fields);
    return { changed: true, files: [fileName] };
  }

  /** Does nothing without jwt_bundle_file_name: the bundles are then only used to validate tokens. */
  async writeBundles(set: JwtBundleSet): Promise<JwtWriteResult> {
    this.sayUnnamed(set);
    const files = renderJwtBundleFiles(set, this.out);
    // Names as configured, which health resolves against cert_dir as the writer did: the one
    // go-helper file may be a path; jwks files are plain names in cert_dir.
    const names = this.out.jwtBundleFormat === 'jwks' || files.length === 0 ? files.map((f) => basename(f.path)) : [this.out.jwtBundleFileName!];
    const signature = files.map((f) => `${f.path}\0${f.mode}\0${String(f.data)}`).join('\0\0');
    if (files.length === 0 || this.lastBundle === signature) return { changed: false, files: names };
    await writeFilesAtomic(files, this.guard);
    this.lastBundle = signature;
    const { jwtBundleFileName: pattern, jwtBundleFormat } = this.out;
    this.log.info('jwt bundle written', { trust_domains: sortedTrustDomains(set).join(','), files: names.join(',') });
    if (jwtBundleFormat === 'jwks' && pattern) {
      await cleanUpAfterWrite(this.log, 'jwt bundle file of a trust domain no longer in the bundle set', () => removeStaleFederatedFiles(this.out.certDir, pattern, files, this.guard));
    }
    return { changed: true, files: names };
  }

  private sayUnnamed(set: JwtBundleSet): void {
    const { jwtBundleFileName: pattern, jwtBundleFormat } = this.out;
    const said = jwtBundleFormat === 'jwks' && pattern ? perDomainFiles(pattern, sortedTrustDomains(set)).unnamed.join('; ') : '';
    if (said === this.unnamedSaid) return;
    this.unnamedSaid = said;
    if (said !== '') this.log.warn('no jwt bundle file for a trust domain whose name cannot be a file name; the other files are written', { key: 'jwt_bundle_file_name', why: said });
  }
}

/**
 * `go-helper`: one JSON object `{"<trust domain>": "<base64 of its JWKS>"}`, what the Go
 * spiffe-helper writes. `jwks`: one plain JWKS file per trust domain, named by replacing
 * `{trust_domain}` in the file name, for verifiers that read JWKS directly. Keys are never
 * merged across domains: a key of one domain must not vouch for another's subjects.
 */
export function renderJwtBundleFiles(set: JwtBundleSet, out: JwtOutput): FileContent[] {
  const { jwtBundleFileName: name, jwtBundleFileMode: mode, certDir } = out;
  if (!name) return [];
  const domains = sortedTrustDomains(set);
  if (out.jwtBundleFormat === 'jwks') {
    return perDomainFiles(name, domains).named.map(([td, file]) => ({
      path: join(certDir, file),
      data: JSON.stringify(jwtBundleToJwks(set.get(td)!), null, 2) + '\n',
      mode,
    }));
  }
  // Written by hand so that the order is the sorted one even for numeric-looking names,
  // which a JS object would move to the front.
  const members = domains.map((td) => {
    const { keys } = jwtBundleToJwks(set.get(td)!);
    const jwks = Buffer.from(JSON.stringify({ keys: keys.map(inGoJoseOrder) })).toString('base64');
    return `${JSON.stringify(td)}:${JSON.stringify(jwks)}`;
  });
  return [{ path: outputPath(certDir, name), data: `{${members.join(',')}}`, mode }];
}

/**
 * go-jose's member order for a JWK (its rawJSONWebKey): the Go helper re-serialises every key
 * so, and a reader comparing bytes (or a checksum) sees the same file from both helpers.
 */
const GO_JOSE_ORDER = ['use', 'kty', 'kid', 'crv', 'alg', 'k', 'x', 'y', 'n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi', 'x5c', 'x5u', 'x5t', 'x5t#S256'];

function inGoJoseOrder(jwk: object): object {
  const rank = (k: string): number => (GO_JOSE_ORDER.includes(k) ? GO_JOSE_ORDER.indexOf(k) : GO_JOSE_ORDER.length);
  return Object.fromEntries(Object.entries(jwk).sort(([a], [b]) => rank(a) - rank(b)));
}
