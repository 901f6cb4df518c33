import { basename } from 'node:path';
import type { Config, X509Output } from '../config/config.js';
import type { Logger } from '../log.js';
import { selectByHint } from '../spiffe/hint.js';
import type { X509Context } from '../spiffe/x509context.js';
import type { X509Svid } from '../spiffe/x509svid.js';
import { writeFilesAtomic, type FileContent, type WriteGuard } from './atomic-write.js';
import { cleanUpAfterWrite, removeStaleFederatedFiles } from './cleanup.js';
import { removeSwapDirLeftovers, writeFilesSwapDir } from './swap-dir.js';
import { federatedFiles, renderX509Files, type X509Render } from './x509-files.js';

/** A validated update turned into the files it becomes: what waits to be written. */
export interface X509Update {
  svid: X509Svid;
  files: FileContent[];
  /** Why some federated trust domains get no per-domain file (their names cannot be file names). */
  unnamed: string[];
}

/**
 * Turns validated X.509 contexts into files. Remembers what it last wrote, so that an
 * identical update (agents re-send state) rewrites nothing and wakes nobody.
 */
export class X509Writer {
  private last: FileContent[] | undefined;
  /** A layout switch needs a restart: the other layout's leftovers are looked for once. */
  private leftoversChecked = false;
  /** What was last said about trust domains without a per-domain file: said again only when it changes. */
  private unnamedSaid = '';

  constructor(
    private readonly out: X509Output,
    private readonly certDir: string,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
    private readonly renders: readonly X509Render[] = [],
    /** The cert_dir lock's, for every write (atomic-write.ts). */
    private readonly guard?: WriteGuard,
  ) {}

  static async fromConfig(config: Config, log: Logger, guard: WriteGuard | undefined): Promise<X509Writer | undefined> {
    if (!config.x509) return undefined;
    const { stores } = config.x509;
    // The PKCS#12 encoder loads only for a config with a keystore or truststore.
    const renders = stores ? [(await import('./keystore-files.js')).storeRenderer(stores, config.x509, config.certDir)] : [];
    return new X509Writer(config.x509, config.certDir, log, undefined, renders, guard);
  }

  /** prepare, then write: for callers that write each update as it comes (one-shot). */
  async apply(ctx: X509Context): Promise<boolean> {
    return this.write(this.prepare(ctx));
  }

  /** Picks the SVID and renders the files; throws, like validation, when the update cannot be used. */
  prepare(ctx: X509Context): X509Update {
    const svid = selectByHint(ctx.svids, this.out.hint, 'x509svid');
    const now = this.now();
    const files = [...renderX509Files(svid, ctx, this.out, this.certDir, now), ...this.renders.flatMap((render) => render(svid, ctx, now))];
    const pattern = this.out.svidFileName === undefined ? undefined : this.out.federatedBundleFileName;
    return { svid, files, unnamed: pattern ? federatedFiles(ctx, pattern).unnamed : [] };
  }

  /**
   * Resolves true once the set is in place and durable, false when it was already on disk.
   * Rejects only when the set is not (wholly) in place; what follows a complete write (removing
   * the files of trust domains no longer federated) is logged when it fails, not thrown.
   */
  async write({ svid, files, unnamed }: X509Update): Promise<boolean> {
    this.sayUnnamed(unnamed);
    if (this.last && sameFiles(this.last, files)) {
      this.log.debug('x509 update unchanged; nothing written', { spiffe_id: svid.id.toString(), serial: svid.serial });
      return false;
    }
    // A failed write may leave a mixed set: whatever comes next is written whole.
    this.last = undefined;
    const swapped = this.out.layout === 'atomic_dir' ? await writeFilesSwapDir(this.certDir, files, this.guard) : await writeFilesAtomic(files, this.guard);
    this.last = files;
    this.log.info('x509 svid written', {
      spiffe_id: svid.id.toString(),
      serial: svid.serial,
      not_after: svid.notAfter.toISOString(),
      files: files.map((f) => basename(f.path)).join(','),
    });
    if (swapped) await cleanUpAfterWrite(this.log, 'old atomic_dir version', swapped.removeOldVersions);
    else if (!this.leftoversChecked) await cleanUpAfterWrite(this.log, 'atomic_dir version left from an earlier file_layout', () => removeSwapDirLeftovers(this.certDir));
    this.leftoversChecked = true;
    const pattern = this.out.federatedBundleFileName;
    if (pattern && this.out.layout === 'files') {
      await cleanUpAfterWrite(this.log, 'bundle file of a trust domain no longer federated', () => removeStaleFederatedFiles(this.certDir, pattern, files, this.guard));
    }
    return true;
  }

  private sayUnnamed(unnamed: string[]): void {
    const said = unnamed.join('; ');
    if (said === this.unnamedSaid) return;
    this.unnamedSaid = said;
    if (said !== '') this.log.warn('no federated bundle file for a trust domain whose name cannot be a file name; the rest of the update is written', { key: 'federated_bundle_file_name', why: said });
  }
}

function sameFiles(a: readonly FileContent[], b: readonly FileContent[]): boolean {
  return (
    a.length === b.length &&
    a.every((f, i) => {
      const g = b[i]!;
      return f.path === g.path && f.mode === g.mode && Buffer.from(f.data).equals(Buffer.from(g.data));
    })
  );
}
