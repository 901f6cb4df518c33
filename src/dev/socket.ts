import { lstat, mkdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, resolve } from 'node:path';
import { HelperError } from '../errors.js';

/** sun_path holds 108 bytes with the terminating NUL; a longer path fails with an obscure error. */
const SOCKET_PATH_MAX_BYTES = 107;

export function checkSocketPath(socketPath: string): string {
  const absolute = resolve(socketPath);
  if (Buffer.byteLength(absolute) > SOCKET_PATH_MAX_BYTES) {
    throw new HelperError('address', `dev agent socket path ${absolute} is longer than ${SOCKET_PATH_MAX_BYTES} bytes, the Unix socket limit: choose a shorter --socket`);
  }
  return absolute;
}

/**
 * Replaces a socket left behind by an agent that died, but never a live agent's socket nor
 * a file that is not a socket.
 */
export async function prepareSocketPath(socketPath: string): Promise<void> {
  await mkdir(dirname(socketPath), { recursive: true });
  const existing = await lstat(socketPath).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw new HelperError('address', `dev agent cannot inspect ${socketPath}: ${e.message}`);
  });
  if (!existing) return;
  if (!existing.isSocket()) {
    throw new HelperError('address', `${socketPath} exists and is not a socket: refusing to replace it; choose another --socket`);
  }
  if (await isListening(socketPath)) {
    throw new HelperError('address', `another process is listening on ${socketPath}: stop it or choose another --socket`);
  }
  await rm(socketPath, { force: true });
}

function isListening(socketPath: string): Promise<boolean> {
  return new Promise((answer) => {
    const socket = connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      answer(true);
    });
    socket.once('error', () => answer(false));
  });
}
