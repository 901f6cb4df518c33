import { close, constants, createReadStream, fstat, open, readFile } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { isatty, ReadStream } from 'node:tty';
import { promisify } from 'node:util';

/**
 * The most a file a person names (or pipes in) may hold: far above any config, bundle (1,000
 * CAs take ~1 MB), token or store, so that `/dev/zero` or an endless pipe is refused with a
 * reason instead of filling memory.
 */
export const NAMED_INPUT_MAX_BYTES = 64 * 1024 * 1024;

function tooLarge(): Error {
  return new Error(`larger than ${NAMED_INPUT_MAX_BYTES / (1024 * 1024)} MiB, more than any file this command reads`);
}

/**
 * Reads a file that a person named (a config, a bundle, a file to inspect), which may be a
 * FIFO (`--config <(...)`), /dev/stdin or a terminal, without ever blocking a libuv thread.
 * A thread blocked opening or reading a FIFO cannot be cancelled, and Node joins its threads
 * on exit (process.exit included): Ctrl-C and SIGTERM could not stop the command. So the file
 * is opened without blocking, and anything but a regular file is read through the event
 * loop, which a stopping process simply leaves behind.
 */
export async function readTextFile(path: string): Promise<string> {
  return (await readNamedFile(path)).toString('utf8');
}

/** The same, as bytes (a PKCS#12 store). */
export async function readNamedFile(path: string): Promise<Buffer> {
  const fd = await promisify(open)(path, constants.O_RDONLY | constants.O_NONBLOCK);
  let stream: Readable | undefined;
  try {
    const st = await promisify(fstat)(fd);
    if (st.isFIFO() || st.isSocket()) stream = new Socket({ fd, readable: true, writable: false });
    else if (st.isCharacterDevice() && isatty(fd)) stream = new ReadStream(fd);
    // A device such as /dev/zero says size 0 and never ends: it is read in chunks, counted.
    else if (!st.isFile()) stream = createReadStream('', { fd });
    else if (st.size > NAMED_INPUT_MAX_BYTES) throw tooLarge();
    else return await promisify(readFile)(fd);
  } finally {
    if (!stream) await promisify(close)(fd);
  }
  return readToEnd(stream);
}

/** Reads a stream a person piped in (stdin) to its end, within NAMED_INPUT_MAX_BYTES. */
export async function readStreamText(stream: Readable): Promise<string> {
  return (await readToEnd(stream)).toString('utf8');
}

function readToEnd(stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= NAMED_INPUT_MAX_BYTES) return void chunks.push(chunk);
      stream.destroy();
      reject(tooLarge());
    });
    stream.once('end', () => {
      stream.destroy();
      resolve(Buffer.concat(chunks));
    });
    stream.once('error', reject);
  });
}

/** Why a file a person named cannot be read, in words rather than an errno code. */
export function whyUnreadable(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
}
