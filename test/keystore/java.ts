import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

/** Real JVM consumers for the keystore tests: keytool, javac, and a TLS server process. */

export interface Jdk {
  home: string;
  /** java.version, e.g. 17.0.15. */
  version: string;
}

/** Every JDK on the machine, once each: the `javac` on PATH and those under /usr/lib/jvm. */
export function jdks(): Jdk[] {
  const homes = new Set<string>();
  const onPath = spawnSync('which', ['javac'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) homes.add(realpathSync(join(realpathSync(onPath), '..', '..')));
  const root = '/usr/lib/jvm';
  for (const name of existsSync(root) ? readdirSync(root) : []) {
    if (existsSync(join(root, name, 'bin', 'javac'))) homes.add(realpathSync(join(root, name)));
  }
  return [...homes].map((home) => {
    const settings = spawnSync(join(home, 'bin', 'java'), ['-XshowSettings:properties', '-version'], { encoding: 'utf8' }).stderr;
    return { home, version: /java\.version = (\S+)/.exec(settings)?.[1] ?? 'unknown' };
  });
}

export function keytoolList(jdk: Jdk, store: string, password: string): string {
  return execFileSync(join(jdk.home, 'bin', 'keytool'), ['-list', '-v', '-storetype', 'PKCS12', '-keystore', store, '-storepass', password], {
    encoding: 'utf8',
  });
}

/** Compiles MtlsServer.java with this JDK's javac into `dir`. */
export function compileServer(jdk: Jdk, dir: string): void {
  const source = fileURLToPath(new URL('./MtlsServer.java', import.meta.url));
  execFileSync(join(jdk.home, 'bin', 'javac'), ['-d', dir, source], { stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface RunningServer {
  port: number;
  /** Lines the server printed after LISTENING (handshake failures). */
  output: string[];
  stop(): Promise<void>;
}

/** Starts the compiled server on an ephemeral loopback port; always stopped after the test file. */
export async function startServer(jdk: Jdk, classDir: string, keystore: string, truststore: string, password: string): Promise<RunningServer> {
  const child = spawn(join(jdk.home, 'bin', 'java'), ['-cp', classDir, 'MtlsServer', keystore, truststore, password], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  after(stop);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const output: string[] = [];
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`MtlsServer did not start in 30 s: ${stderr}`)), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`MtlsServer exited with ${code}: ${stderr}`));
    });
    lines.on('line', (line) => {
      const m = /^LISTENING (\d+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      } else output.push(line);
    });
  });
  return { port, output, stop };
}
