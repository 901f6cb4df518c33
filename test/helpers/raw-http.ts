import { connect } from 'node:net';

/**
 * Sends `text` as it is on a new connection to 127.0.0.1:`port`, half-closes, and resolves to
 * the first line the server answered ('' if none): requests no HTTP client would send.
 */
export function statusLine(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d: Buffer) => (out += d.toString('latin1')));
    s.on('error', () => undefined);
    s.once('connect', () => s.end(text));
    s.once('close', () => resolve(out.split('\r\n')[0]!));
  });
}
