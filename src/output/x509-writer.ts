import { basename } from 'node:path';
import type { Config, X509Output } from '../config/config.js';
import type { Logger } from '../log.js';
import type { X509Svid } from '../spiffe/x509svid.js';
import { selectSvid, type X509Context } from '../workload/x509context.js';
import { writeFilesAtomic, type FileContent } from './atomic-write.js';
import { writeFilesSwapDir } from './swap-dir.js';
import { removeStaleFederatedFiles, renderX509Files } from './x509-files.js';

export type WriteResult = { changed: false } | { changed: true; svid: X509Svid; files: string[] };

/**
 * Turns validated X.509 contexts into files. Remembers what it last wrote, so that an
 * identical update (agents re-send state) rewrites nothing and wakes nobody.
 */
export class X509Writer {
  private last: FileContent[] | undefined;

  constructor(
    private readonly out: X509Output,
    private readonly certDir: string,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  static fromConfig(config: Config, log: Logger): X509Writer | undefined {
    return config.x509 ? new X509Writer(config.x509, config.certDir, log) : undefined;
  }

  /**
   * `inPlace` runs as soon as readers can see the new files (before the directory fsync that
   * makes them survive a crash): the place to signal the program that reads them.
   */
  async apply(ctx: X509Context, inPlace?: () => Promise<void>): Promise<WriteResult> {
    const svid = selectSvid(ctx, this.out.hint);
    const files = renderX509Files(svid, ctx, this.out, this.certDir, this.now());
    if (this.last && sameFiles(this.last, files)) {
      this.log.debug('x509 update unchanged; nothing written', { spiffe_id: svid.id.toString(), serial: svid.serial });
      return { changed: false };
    }
    const names = files.map((f) => basename(f.path));
    const written = async (): Promise<void> => {
      this.log.info('x509 svid written', {
        spiffe_id: svid.id.toString(),
        serial: svid.serial,
        not_after: svid.notAfter.toISOString(),
        files: names.join(','),
      });
      await inPlace?.();
    };
    if (this.out.layout === 'atomic_dir') {
      await writeFilesSwapDir(this.certDir, files, written);
    } else {
      await writeFilesAtomic(files, written);
    }
    this.last = files;
    if (this.out.federatedBundleFileName && this.out.layout === 'files') {
      for (const name of await removeStaleFederatedFiles(this.certDir, this.out.federatedBundleFileName, files)) {
        this.log.info('removed bundle file of a trust domain no longer federated', { file: name });
      }
    }
    return { changed: true, svid, files: names };
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
