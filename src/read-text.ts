import { close, constants, fstat, open, readFile } from 'node:fs';
import { Socket } from 'node:net';
import { isatty, ReadStream } from 'node:tty';
import { promisify } from 'node:util';

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
  let stream: Socket | ReadStream | undefined;
  try {
    const st = await promisify(fstat)(fd);
    if (st.isFIFO() || st.isSocket()) stream = new Socket({ fd, readable: true, writable: false });
    else if (st.isCharacterDevice() && isatty(fd)) stream = new ReadStream(fd);
    else return await promisify(readFile)(fd);
  } finally {
    if (!stream) await promisify(close)(fd);
  }
  return readToEnd(stream);
}

function readToEnd(stream: Socket | ReadStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
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
