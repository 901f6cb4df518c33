/**
 * The health listener under hostile clients, against the built CLI limited to 256 descriptors
 * (as in listener.test.ts): after (or during) each attack a new probe connection is answered
 * and a rotation is written. Figures are printed, not asserted on time.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliPath, startCli, writeConfig, type Running } from '../helpers/cli.js';
import { devAgent } from '../helpers/dev-agent.js';
import { statusLine } from '../helpers/raw-http.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const HEALTH = `[health_checks]\nlistener_enabled = true\nbind_port = 0\nmetrics_enabled = true\n`;

interface Helper {
  run: Running;
  port: number;
  rotated(): Promise<void>;
}

async function withHelper(body: (h: Helper) => Promise<void>): Promise<void> {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const run = startCli(['--nofile=256:256', process.execPath, cliPath, '--config', writeConfig(dir, agent.address, HEALTH)], { command: 'prlimit' });
  try {
    const m = await waitFor('the health listener to start', () => /health listener started address=[\d.]+:(\d+)/.exec(run.stderr()));
    const port = Number(m[1]);
    const svid = join(dir, 'certs', 'svid.pem');
    const read = (): string | undefined => {
      try {
        return readFileSync(svid, 'utf8');
      } catch {
        return undefined;
      }
    };
    await waitFor('the first SVID', read);
    // svid.pem is renamed in before the other files are and the write is recorded: probes of /ready
    // (HEAD /ready below) wait for what the helper reports, not for one file.
    await waitFor('the helper to be ready', async () => (await freshProbe(port, '/ready')) === 200);
    // The whole set, not only svid.pem: an EMFILE on a later file must show before the check below.
    const writes = (): number => run.stderr().split('x509 svid written').length - 1;
    const rotated = async (): Promise<void> => {
      const before = writes();
      await agent.rotate();
      await waitFor('the rotation to be written', () => writes() > before);
    };
    await body({ run, port, rotated });
    assert.doesNotMatch(run.stderr(), /EMFILE|too many open files/i);
  } finally {
    run.child.kill('SIGTERM');
    const r = await run.result;
    assert.equal(r.code, 0, r.stderr);
  }
}

/** One probe on a new connection, as the kubelet makes it: the status, or the error. */
function freshProbe(port: number, path = '/live'): Promise<number | string> {
  return new Promise((resolve) => {
    const r = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    r.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    r.end();
  });
}

function rssKb(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

function opened(port: number, sockets: Set<Socket>): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  sockets.add(s);
  s.on('error', () => undefined);
  s.on('close', () => sockets.delete(s));
  return new Promise((resolve) => s.once('connect', () => resolve(s)));
}

test('listener: 40 connections trickling their headers a byte at a time do not keep a new probe out', async () => {
  await withHelper(async ({ port, rotated }) => {
    const held = new Set<Socket>();
    try {
      const trickling = await Promise.all(Array.from({ length: 40 }, () => opened(port, held)));
      for (const s of trickling) s.write('G');
      // Every slot is taken by a trickler (the first ones over the cap were closed).
      await waitFor('the listener to be full', async () => held.size <= 32 && held.size > 0);
      for (const s of held) s.write('E');
      assert.equal(await freshProbe(port), 200, 'a probe while the tricklers hold every slot');
      assert.equal(await freshProbe(port, '/ready'), 200);
      console.log(`# tricklers still open after two probes: ${held.size}`);
      await rotated();
    } finally {
      for (const s of held) s.destroy();
    }
  });
});

test('listener: 31 connections pipelining thousands of /metrics requests without reading the answers are closed; a probe and a rotation still work', async () => {
  await withHelper(async ({ run, port, rotated }) => {
    const held = new Set<Socket>();
    try {
      const before = rssKb(run.child.pid!);
      const requests = Buffer.from('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(2_000));
      const clients = await Promise.all(Array.from({ length: 31 }, () => opened(port, held)));
      for (const s of clients) {
        s.pause();
        s.write(requests);
      }
      // Answers in flight are bounded per connection: the helper closes a connection that asks for more.
      await waitFor('the pipelining connections to be closed', () => held.size === 0, 30_000);
      console.log(`# helper memory growth: ${rssKb(run.child.pid!) - before} kB`);
      assert.equal(await freshProbe(port), 200);
      await rotated();
    } finally {
      for (const s of held) s.destroy();
    }
  });
});

test('listener: a client reading its answers but pipelining 2,000 requests at once gets at most a few before being closed', async () => {
  await withHelper(async ({ port, rotated }) => {
    const s = connect(port, '127.0.0.1');
    let answers = '';
    s.on('data', (d: Buffer) => (answers += d.toString('latin1')));
    s.on('error', () => undefined);
    s.once('connect', () => s.write('GET /live HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(2_000)));
    await new Promise((r) => s.once('close', r));
    const count = answers.split('HTTP/1.1 200 OK').length - 1;
    console.log(`# answers before the connection was closed: ${count}`);
    assert.ok(count >= 1 && count <= 4, `${count} answers`);
    assert.equal(await freshProbe(port), 200);
    await rotated();
  });
});

for (const [name, head] of [
  ['a Content-Length of 10 GB', 'Content-Length: 10000000000'],
  ['a chunked body that never ends', 'Transfer-Encoding: chunked'],
] as const) {
  test(`listener: a probe with ${name} is answered and its connection closed without reading the body`, async () => {
    await withHelper(async ({ port, rotated }) => {
      const s = connect(port, '127.0.0.1');
      let reply = '';
      let sent = 0;
      s.on('data', (d: Buffer) => (reply += d.toString('latin1')));
      s.on('error', () => undefined);
      const chunk = head.startsWith('Transfer') ? Buffer.from(`10000\r\n${'a'.repeat(0x10000)}\r\n`) : Buffer.alloc(0x10000, 97);
      s.once('connect', () => {
        s.write(`GET /live HTTP/1.1\r\nHost: x\r\n${head}\r\n\r\n`);
        const pump = (): void => {
          while (!s.destroyed && s.write(chunk)) sent += chunk.length;
          if (!s.destroyed) s.once('drain', pump);
        };
        pump();
      });
      await new Promise((r) => s.once('close', r));
      console.log(`# body bytes the client got to send before the helper closed: ${sent}`);
      assert.match(reply, /^HTTP\/1\.1 200 OK/);
      assert.ok(sent < 64 * 1024 * 1024, `the helper read ${sent} bytes of a body nobody needs`);
      await rotated();
    });
  });
}

test('listener: odd but valid requests are answered (HTTP/1.0 without Host, HEAD, absolute-form target), garbage is refused, then a probe works', async () => {
  await withHelper(async ({ port, rotated }) => {
    const cases: [string, string, RegExp][] = [
      ['HTTP/1.0 without Host', 'GET /live HTTP/1.0\r\n\r\n', / 200 /],
      ['HEAD', 'HEAD /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', / 200 /],
      ['absolute-form target', 'GET http://x/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', / 200 /],
      ['OPTIONS *', 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', / 404 /],
      ['an HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', / 400 /],
      ['1 MB of headers', `GET /live HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(1 << 20)}\r\n\r\n`, / 431 /],
    ];
    for (const [name, text, status] of cases) assert.match(await statusLine(port, text), status, name);
    assert.equal(await freshProbe(port), 200);
    await rotated();
  });
});

test('listener: a bind_port already taken is exit 8 naming health_checks.bind_port; an IPv6 literal bind_address (bracketed or not) listens', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const port = (taken.address() as { port: number }).port;
  try {
    const clash = startCli(['--config', writeConfig(dir, agent.address, `[health_checks]\nlistener_enabled = true\nbind_port = ${port}\n`)]);
    const r = await clash.result;
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stderr, new RegExp(`health_checks\\.bind_port: cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use`));
  } finally {
    taken.close();
  }
  for (const address of ['::1', '[::1]']) {
    const run = startCli(['--config', writeConfig(dir, agent.address, `[health_checks]\nlistener_enabled = true\nbind_port = 0\nbind_address = "${address}"\n`)]);
    try {
      const m = await waitFor('the health listener to start', () => /health listener started address=\[::1\]:(\d+)/.exec(run.stderr()));
      const res = await fetch(`http://[::1]:${m[1]}/live`);
      assert.equal(res.status, 200, address);
    } finally {
      run.child.kill('SIGTERM');
      assert.equal((await run.result).code, 0);
    }
  }
});
