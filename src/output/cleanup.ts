import { describeError } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * Runs the clean-up that follows a complete write: files of trust domains no longer in the
 * set, old atomic_dir versions. The new files are already what readers see, so a failure here
 * is a warning, never a failed write: a retry would rewrite nothing and remove nothing more,
 * and reporting it as a failure would make a good rotation look refused.
 */
export async function cleanUpAfterWrite(log: Logger, what: string, work: () => Promise<readonly string[]>): Promise<void> {
  try {
    for (const file of await work()) log.info(`removed ${what}`, { file });
  } catch (e) {
    log.warn(`could not remove the ${what}; the new files are in place`, { error: describeError(e) });
  }
}
