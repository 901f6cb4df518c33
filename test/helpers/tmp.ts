import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';

/**
 * A temp dir under /tmp removed after the test file. Kept short on purpose: unix socket paths
 * must fit in 108 bytes.
 */
export function tempDir(prefix = 'sh-'): string {
  const dir = mkdtempSync(join('/tmp', prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
