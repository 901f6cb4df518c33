import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { trustDomainInFileName } from '../config/trust-domain-pattern.js';
import { readNamedFile, readTextFile, whyUnreadable } from '../read-text.js';

/** The file's text, or undefined after reporting why it cannot be read. */
export async function readText(file: string, problem: (m: string) => void): Promise<string | undefined> {
  return readOrReport(file, readTextFile, problem);
}

/** The file's bytes (a PKCS#12 store), or undefined after reporting why it cannot be read. */
export async function readBytes(file: string, problem: (m: string) => void): Promise<Buffer | undefined> {
  return readOrReport(file, readNamedFile, problem);
}

async function readOrReport<T>(file: string, read: (file: string) => Promise<T>, problem: (m: string) => void): Promise<T | undefined> {
  try {
    return await read(file);
  } catch (e) {
    problem(`${file}: cannot read: ${whyUnreadable(e)}`);
    return undefined;
  }
}

/** Files in `dir` matching a `{trust_domain}` pattern, sorted. */
export async function federatedFiles(dir: string, pattern: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => trustDomainInFileName(n, pattern) !== undefined)
    .sort()
    .map((n) => join(dir, n));
}

/** The trust domain a per-domain file stands for, from its path. */
export function trustDomainOfFile(path: string, pattern: string): string | undefined {
  return trustDomainInFileName(basename(path), pattern);
}
