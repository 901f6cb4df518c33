/**
 * Real-SPIRE test harness: runs a throw-away SPIRE server + agent (built by scripts/spire.sh
 * from the Go module proxy) for node:test tests.
 *
 *   const bin = spireBinDir();                     // undefined (reason printed) if SPIRE can't be had
 *   test('x', { skip: bin ? false : spireUnavailableReason() }, async () => {
 *     const spire = await startSpire();
 *     try {
 *       await spire.createEntry({ spiffeId: 'spiffe://example.org/workload' });
 *       // talk to spire.address ('unix:///tmp/spt-XXXXXX/agent.sock')
 *     } finally {
 *       await spire.stop();
 *     }
 *   });
 *
 * Everything binds to 127.0.0.1 or to unix sockets in a short temp dir under /tmp.
 * Processes are killed by stop(), on process 'exit', on SIGINT/SIGTERM, and — should the test
 * process die by SIGKILL — by a small detached reaper that notices the parent is gone.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/spire.sh', import.meta.url));

// ---------------------------------------------------------------------------------------------
// Locating / building SPIRE

let binDirMemo: { dir: string | undefined; reason: string | undefined } | undefined;

/**
 * The directory holding spire-server and spire-agent, building them on first use
 * (`scripts/spire.sh install`: minutes the first time, then instant). Returns undefined, after
 * printing a one-line reason to stderr, when SPIRE cannot be had; `spireUnavailableReason()`
 * then gives that reason (for `test(..., { skip: reason })`).
 *
 * Environment: SPIRE_BIN_DIR (use these binaries), SPIRE_NO_BUILD=1 (never build; use only an
 * existing install), SPIRE_TESTS=0 (pretend SPIRE is unavailable).
 */
export function spireBinDir(): string | undefined {
  if (binDirMemo) return binDirMemo.dir;
  const fail = (reason: string): undefined => {
    binDirMemo = { dir: undefined, reason };
    process.stderr.write(`spire harness: SPIRE unavailable: ${reason}\n`);
    return undefined;
  };
  if (process.env.SPIRE_TESTS === '0') return fail('disabled by SPIRE_TESTS=0');
  const sub = process.env.SPIRE_NO_BUILD === '1' ? 'bin-dir' : 'install';
  const r = spawnSync('bash', [SCRIPT, sub], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) return fail(`cannot run ${SCRIPT}: ${r.error.message}`);
  const lastLine = (s: string): string => s.trim().split('\n').filter(Boolean).pop() ?? '';
  if (r.status !== 0) {
    const why = lastLine(r.stderr) || `scripts/spire.sh ${sub} exited ${r.status ?? r.signal}`;
    return fail(sub === 'bin-dir' ? `not installed (SPIRE_NO_BUILD=1): run scripts/spire.sh install` : why);
  }
  const built = r.stderr.split('\n').find((l) => l.includes('built SPIRE'));
  if (built) process.stderr.write(`${built}\n`);
  const dir = lastLine(r.stdout);
  if (!dir || !existsSync(join(dir, 'spire-server')) || !existsSync(join(dir, 'spire-agent'))) {
    return fail(`scripts/spire.sh ${sub} printed no usable bin dir (${JSON.stringify(dir)})`);
  }
  binDirMemo = { dir, reason: undefined };
  return dir;
}

/** Why spireBinDir() returned undefined (calls it if not yet called); undefined if SPIRE is there. */
export function spireUnavailableReason(): string | undefined {
  spireBinDir();
  return binDirMemo?.reason;
}

// ---------------------------------------------------------------------------------------------
// Types

export interface SpireOptions {
  /** Default "example.org". */
  trustDomain?: string;
  /** server default_x509_svid_ttl (Go duration). Default "1h". Per entry: createEntry({ x509SvidTtl }). */
  defaultX509SvidTtl?: string;
  /** server default_jwt_svid_ttl (Go duration). Default "5m". */
  defaultJwtSvidTtl?: string;
  /** server ca_ttl (Go duration). Default "24h". */
  caTtl?: string;
  /** agent experimental.sync_interval (SPIRE default 5s). Default "200ms". */
  agentSyncInterval?: string;
  /** server experimental.cache_reload_interval (SPIRE default 5s). Default "200ms". */
  serverCacheReloadInterval?: string;
  /** log_level of both. Default "INFO" ("DEBUG" for more in logs()). */
  logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** Time allowed for each of server and agent to become healthy. Default 60 000 ms. */
  startTimeoutMs?: number;
  /**
   * The server's KeyManager. Default "memory": new keys at every start. "disk" keeps the CA and
   * JWT keys across stopServer()/startServer(), as a production server does; with "memory" the
   * agent cannot verify a restarted server.
   */
  serverKeyManager?: 'memory' | 'disk';
  /** Use these binaries instead of spireBinDir(). */
  binDir?: string;
  /** More server plugin blocks, HCL, e.g. an `UpstreamAuthority "disk" { ... }`. */
  serverPlugins?: string;
}

export interface EntryOptions {
  /** e.g. "spiffe://example.org/workload". */
  spiffeId: string;
  /** One or more "type:value" selectors. Default `unix:uid:<this process's uid>`. */
  selector?: string | string[];
  /** Entry X.509-SVID lifetime in seconds (-x509SVIDTTL). */
  x509SvidTtl?: number;
  /** Entry JWT-SVID lifetime in seconds (-jwtSVIDTTL). */
  jwtSvidTtl?: number;
  /** Entry hint (-hint). */
  hint?: string;
  /** Trust domains ("partner.org" or "spiffe://partner.org"); their bundle must be set first. */
  federatesWith?: string[];
  /** DNS SANs (-dns). */
  dns?: string[];
  /** Parent ID. Default "spiffe://<td>/agent" (the agent's alias). */
  parentId?: string;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Spire {
  /** Trust domain name, e.g. "example.org". */
  readonly trustDomain: string;
  /** The agent's Workload API socket path (absolute, < 108 bytes). */
  readonly socketPath: string;
  /** "unix://" + socketPath. */
  readonly address: string;
  /** The server's admin API socket (what `spire-server ... -socketPath` takes). */
  readonly serverSocketPath: string;
  /** 127.0.0.1 port the server listens on for the agent. */
  readonly serverPort: number;
  /** The temp dir holding configs, data and sockets (removed by stop()). */
  readonly dir: string;
  readonly binDir: string;
  /** "spiffe://<td>/agent": the parent ID of entries made by createEntry. */
  readonly agentId: string;
  /** Milliseconds server and agent took to become healthy in startSpire(). */
  readonly startupMs: { server: number; agent: number };

  /** Creates a registration entry; resolves to its entry ID. */
  createEntry(entry: EntryOptions): Promise<string>;
  deleteEntry(id: string): Promise<void>;
  /** `bundle set -format pem -id spiffe://<td>` with the PEM CA certificate(s) on stdin. */
  setFederatedBundle(trustDomain: string, pemCa: string): Promise<void>;
  /** `bundle delete -id spiffe://<td> -mode dissociate` (entries stop federating with it). */
  deleteFederatedBundle(trustDomain: string): Promise<void>;
  /** The server's own trust bundle as PEM (`bundle show -format pem`). */
  bundlePem(): Promise<string>;
  /**
   * The SPIFFE IDs the agent issues to this process now (`spire-agent api fetch x509`), sorted;
   * none when it issues nothing. Entries are synced to the agent later than the server CLI returns.
   */
  issuedIds(): Promise<string[]>;
  /**
   * Any server CLI command, e.g. serverCli(['entry', 'show', '-spiffeID', id]): the harness adds
   * `-socketPath <server socket>` after the subcommand words. Never throws on a non-zero exit.
   */
  serverCli(args: string[], stdin?: string): Promise<CliResult>;

  /** Stops the agent (SIGTERM, then SIGKILL after 5 s). The socket goes away; server keeps running. */
  stopAgent(): Promise<void>;
  /** Starts the agent again on the same socket and data dir; resolves when it is healthy. */
  startAgent(): Promise<void>;
  /** stopAgent() then startAgent(). The agent keeps its identity (disk key manager). */
  restartAgent(): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s): a server outage; the agent keeps running. */
  stopServer(): Promise<void>;
  /**
   * Starts the server again on the same port, config and datastore; resolves when it is healthy.
   * Needs `serverKeyManager: "disk"` for the agent to trust it again.
   */
  startServer(): Promise<void>;
  /** PIDs of the running server and agent (undefined when not running). */
  pids(): { server: number | undefined; agent: number | undefined };
  /** Kills agent and server (SIGTERM then SIGKILL) and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Server and agent output plus failed CLI calls, for diagnostics. */
  logs(): string;
}

// ---------------------------------------------------------------------------------------------
// Process-wide cleanup of every instance, whatever happens to the test.

interface Live {
  /** Synchronous last resort (process 'exit'): SIGKILL everything, remove the dir. */
  killSync(): void;
  /** The normal stop (SIGTERM, wait, SIGKILL). */
  stop(): Promise<void>;
}
const live = new Set<Live>();
let hooksInstalled = false;

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const l of live) l.killSync();
  });
  const codes = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      // Stop gracefully (bounded), then keep the default behaviour (exit) unless somebody
      // else handles the signal too.
      const all = Promise.all([...live].map((l) => l.stop().catch(() => undefined)));
      const bounded = Promise.race([all, new Promise((r) => setTimeout(r, 3_000).unref())]);
      void bounded.then(() => {
        for (const l of live) l.killSync();
        if (process.listenerCount(sig) <= 1) process.exit(codes[sig]);
      });
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A TCP port free right now on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

function run(cmd: string, args: string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let done = false;
    const timer = setTimeout(() => {
      stderr += `\n[harness] timed out after ${opts.timeoutMs ?? 30_000} ms`;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const finish = (code: number) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    };
    child.on('error', (e) => {
      stderr += String(e);
      finish(127);
    });
    child.on('close', (code, signal) => finish(code ?? (signal ? 128 : 1)));
    child.stdin.on('error', () => {});
    child.stdin.end(opts.stdin ?? '');
  });
}

/** Bounded in-memory log of a process's output. */
class LogBuffer {
  private chunks: string[] = [];
  private size = 0;
  constructor(private readonly max = 1 << 20) {}
  add(s: string): void {
    this.chunks.push(s);
    this.size += s.length;
    while (this.size > this.max && this.chunks.length > 1) this.size -= this.chunks.shift()!.length;
  }
  text(): string {
    return this.chunks.join('');
  }
  tail(lines = 40): string {
    return this.text().trimEnd().split('\n').slice(-lines).join('\n');
  }
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

async function terminate(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  if (await waitExit(child, 5_000)) return;
  child.kill('SIGKILL');
  await waitExit(child, 5_000);
}

function alive(child: ChildProcess | undefined): boolean {
  return !!child && child.exitCode === null && child.signalCode === null;
}

const tdId = (td: string) => (td.startsWith('spiffe://') ? td : `spiffe://${td}`);

// ---------------------------------------------------------------------------------------------

/** Starts a SPIRE server and an attested agent in a fresh temp dir. */
export async function startSpire(options: SpireOptions = {}): Promise<Spire> {
  const binDir = options.binDir ?? spireBinDir();
  if (!binDir) throw new Error(`SPIRE unavailable: ${spireUnavailableReason() ?? 'unknown reason'}`);
  const serverBin = join(binDir, 'spire-server');
  const agentBin = join(binDir, 'spire-agent');
  const td = options.trustDomain ?? 'example.org';
  const startTimeout = options.startTimeoutMs ?? 60_000;
  const logLevel = options.logLevel ?? 'INFO';

  const dir = mkdtempSync('/tmp/spt-');
  const serverData = join(dir, 'server');
  const agentData = join(dir, 'agent');
  mkdirSync(serverData);
  mkdirSync(agentData);
  const serverSocketPath = join(dir, 'server.sock');
  const socketPath = join(dir, 'agent.sock');
  const serverConf = join(dir, 'server.conf');
  const agentConf = join(dir, 'agent.conf');
  const pidFile = join(dir, 'pids');
  if (Buffer.byteLength(socketPath) >= 104) throw new Error(`socket path too long: ${socketPath}`);

  const serverLog = new LogBuffer();
  const agentLog = new LogBuffer();
  const cliLog = new LogBuffer(256 << 10);
  let server: ChildProcess | undefined;
  let agent: ChildProcess | undefined;
  let serverPort = 0;
  let stopped: Promise<void> | undefined;
  let reaper: ChildProcess | undefined;

  const writePids = () => {
    try {
      writeFileSync(pidFile, [server?.pid, agent?.pid].filter((p) => p !== undefined).join(' ') + '\n');
    } catch {
      /* dir gone */
    }
  };

  const killSync = () => {
    for (const c of [agent, server]) {
      if (c && alive(c)) {
        try {
          c.kill('SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    if (reaper?.pid) {
      try {
        process.kill(reaper.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const handle: Live = { killSync, stop: () => stop() };
  installHooks();
  live.add(handle);

  // A detached reaper: if this process disappears without running its 'exit' hooks (SIGKILL),
  // it kills the pids listed in <dir>/pids and removes <dir>.
  reaper = spawn(
    'sh',
    [
      '-c',
      'while kill -0 "$1" 2>/dev/null; do sleep 1; done; ' +
        'p=$(cat "$2/pids" 2>/dev/null); [ -n "$p" ] && kill -TERM $p 2>/dev/null; sleep 2; ' +
        '[ -n "$p" ] && kill -KILL $p 2>/dev/null; rm -rf "$2"',
      'spire-harness-reaper',
      String(process.pid),
      dir,
    ],
    { detached: true, stdio: 'ignore' },
  );
  reaper.unref();

  const serverCli = async (args: string[], stdin?: string): Promise<CliResult> => {
    // Subcommand words come first: ["entry", "create", "-socketPath", <sock>, <flags...>].
    const nSub = args.findIndex((a) => a.startsWith('-'));
    const cmd = nSub < 0 ? args : args.slice(0, nSub);
    const flags = nSub < 0 ? [] : args.slice(nSub);
    const r = await run(serverBin, [...cmd, '-socketPath', serverSocketPath, ...flags], stdin === undefined ? {} : { stdin });
    if (r.code !== 0) cliLog.add(`$ spire-server ${[...cmd, ...flags].join(' ')}\n-> exit ${r.code}\n${r.stdout}${r.stderr}\n`);
    return r;
  };

  const mustCli = async (args: string[], stdin?: string): Promise<string> => {
    const r = await serverCli(args, stdin);
    if (r.code !== 0) throw new Error(`spire-server ${args.join(' ')} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
    return r.stdout;
  };

  const logs = () => `===== spire-server (${dir}) =====\n${serverLog.text()}\n===== spire-agent =====\n${agentLog.text()}\n` + `===== failed CLI calls =====\n${cliLog.text()}`;

  const fail = (what: string, log: LogBuffer): Error => new Error(`${what}\n--- last log lines ---\n${log.tail()}`);

  const waitHealthy = async (bin: string, sock: string, child: ChildProcess, log: LogBuffer, name: string) => {
    const deadline = Date.now() + startTimeout;
    for (;;) {
      if (!alive(child)) throw fail(`${name} exited (code ${child.exitCode}, signal ${child.signalCode}) before it was healthy`, log);
      if (existsSync(sock)) {
        const r = await run(bin, ['healthcheck', '-socketPath', sock], { timeoutMs: 5_000 });
        if (r.code === 0) return;
      }
      if (Date.now() > deadline) throw fail(`${name} not healthy after ${startTimeout} ms`, log);
      await sleep(100);
    }
  };

  const pipeLogs = (child: ChildProcess, log: LogBuffer) => {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => log.add(d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => log.add(d));
    // Never keep the test process alive: a forgotten instance is killed by the 'exit' hook.
    child.unref();
    for (const s of [child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  };

  const writeServerConf = () =>
    writeFileSync(
      serverConf,
      `server {
    bind_address = "127.0.0.1"
    bind_port = "${serverPort}"
    socket_path = "${serverSocketPath}"
    trust_domain = "${td}"
    data_dir = "${serverData}"
    log_level = "${logLevel}"
    ca_ttl = "${options.caTtl ?? '24h'}"
    default_x509_svid_ttl = "${options.defaultX509SvidTtl ?? '1h'}"
    default_jwt_svid_ttl = "${options.defaultJwtSvidTtl ?? '5m'}"
    experimental {
        cache_reload_interval = "${options.serverCacheReloadInterval ?? '200ms'}"
    }
}

plugins {
    DataStore "sql" {
        plugin_data {
            database_type = "sqlite3"
            connection_string = "${join(serverData, 'datastore.sqlite3')}"
        }
    }
    NodeAttestor "join_token" {
        plugin_data {}
    }
    ${
      options.serverKeyManager === 'disk'
        ? `KeyManager "disk" {
        plugin_data {
            keys_path = "${join(serverData, 'keys.json')}"
        }
    }`
        : `KeyManager "memory" {
        plugin_data {}
    }`
    }
${options.serverPlugins ?? ''}
}
`,
    );

  const writeAgentConf = () =>
    writeFileSync(
      agentConf,
      `agent {
    data_dir = "${agentData}"
    log_level = "${logLevel}"
    server_address = "127.0.0.1"
    server_port = "${serverPort}"
    socket_path = "${socketPath}"
    trust_domain = "${td}"
    insecure_bootstrap = true
    experimental {
        sync_interval = "${options.agentSyncInterval ?? '200ms'}"
    }
}

plugins {
    NodeAttestor "join_token" {
        plugin_data {}
    }
    # "disk", not "memory": the agent must keep its key to come back after restartAgent()
    # (a join token can be used only once).
    KeyManager "disk" {
        plugin_data {
            directory = "${agentData}"
        }
    }
    WorkloadAttestor "unix" {
        plugin_data {}
    }
}
`,
    );

  const startServer = async () => {
    for (let attempt = 1; ; attempt++) {
      serverPort = await freePort();
      writeServerConf();
      serverLog.add(`[harness] starting spire-server on 127.0.0.1:${serverPort} (attempt ${attempt})\n`);
      server = spawn(serverBin, ['run', '-config', serverConf], { stdio: ['ignore', 'pipe', 'pipe'] });
      pipeLogs(server, serverLog);
      writePids();
      try {
        await waitHealthy(serverBin, serverSocketPath, server, serverLog, 'spire-server');
        return;
      } catch (e) {
        // Lost a race for the port? Try another one, twice.
        const portClash = /address already in use/i.test(serverLog.tail(20));
        await terminate(server);
        if (!portClash || attempt >= 3) throw e;
        rmSync(serverData, { recursive: true, force: true });
        mkdirSync(serverData);
      }
    }
  };

  const startAgent = async () => {
    if (stopped) throw new Error('SPIRE harness already stopped');
    if (alive(agent)) return;
    // A fresh token each time: used only if the agent has to (re-)attest.
    const out = await mustCli(['token', 'generate', '-spiffeID', `spiffe://${td}/agent`, '-output', 'json']);
    const token = (JSON.parse(out) as { value?: string }).value;
    if (!token) throw new Error(`token generate gave no token: ${out}`);
    writeAgentConf();
    agentLog.add(`[harness] starting spire-agent\n`);
    agent = spawn(agentBin, ['run', '-config', agentConf, '-joinToken', token], { stdio: ['ignore', 'pipe', 'pipe'] });
    pipeLogs(agent, agentLog);
    writePids();
    await waitHealthy(agentBin, socketPath, agent, agentLog, 'spire-agent');
  };

  const stopAgent = async () => {
    await terminate(agent);
    agentLog.add(`[harness] spire-agent stopped\n`);
    writePids();
  };

  const stopServer = async () => {
    await terminate(server);
    serverLog.add(`[harness] spire-server stopped\n`);
    writePids();
  };

  const resumeServer = async () => {
    if (stopped) throw new Error('SPIRE harness already stopped');
    if (alive(server)) return;
    serverLog.add(`[harness] starting spire-server again on 127.0.0.1:${serverPort}\n`);
    server = spawn(serverBin, ['run', '-config', serverConf], { stdio: ['ignore', 'pipe', 'pipe'] });
    pipeLogs(server, serverLog);
    writePids();
    await waitHealthy(serverBin, serverSocketPath, server, serverLog, 'spire-server');
  };

  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await terminate(agent);
      await terminate(server);
      killSync(); // SIGKILLs stragglers + reaper, removes dir
      live.delete(handle);
    })();
    return stopped;
  };

  const startupMs = { server: 0, agent: 0 };
  try {
    let t = Date.now();
    await startServer();
    startupMs.server = Date.now() - t;
    t = Date.now();
    await startAgent();
    startupMs.agent = Date.now() - t;
  } catch (e) {
    const detail = logs();
    await stop();
    if (e instanceof Error) e.message += `\n--- full logs ---\n${detail}`;
    throw e;
  }

  const spire: Spire = {
    trustDomain: td,
    socketPath,
    address: `unix://${socketPath}`,
    serverSocketPath,
    serverPort,
    dir,
    binDir,
    agentId: `spiffe://${td}/agent`,
    startupMs,

    async createEntry(e: EntryOptions): Promise<string> {
      const uid = process.getuid?.() ?? 0;
      const selectors = e.selector === undefined ? [`unix:uid:${uid}`] : Array.isArray(e.selector) ? e.selector : [e.selector];
      const args = ['entry', 'create', '-parentID', e.parentId ?? `spiffe://${td}/agent`, '-spiffeID', e.spiffeId];
      for (const s of selectors) args.push('-selector', s);
      if (e.x509SvidTtl !== undefined) args.push('-x509SVIDTTL', String(e.x509SvidTtl));
      if (e.jwtSvidTtl !== undefined) args.push('-jwtSVIDTTL', String(e.jwtSvidTtl));
      if (e.hint !== undefined) args.push('-hint', e.hint);
      for (const f of e.federatesWith ?? []) args.push('-federatesWith', tdId(f));
      for (const d of e.dns ?? []) args.push('-dns', d);
      args.push('-output', 'json');
      const out = await mustCli(args);
      const parsed = JSON.parse(out) as { results?: { status?: { code?: number; message?: string }; entry?: { id?: string } }[] };
      const res = parsed.results?.[0];
      if (!res?.entry?.id || (res.status?.code ?? 0) !== 0) {
        throw new Error(`entry create failed: ${res?.status?.message ?? out}`);
      }
      return res.entry.id;
    },

    async deleteEntry(id: string): Promise<void> {
      await mustCli(['entry', 'delete', '-entryID', id]);
    },

    async setFederatedBundle(trustDomain: string, pemCa: string): Promise<void> {
      await mustCli(['bundle', 'set', '-format', 'pem', '-id', tdId(trustDomain)], pemCa);
    },

    async deleteFederatedBundle(trustDomain: string): Promise<void> {
      await mustCli(['bundle', 'delete', '-id', tdId(trustDomain), '-mode', 'dissociate']);
    },

    async bundlePem(): Promise<string> {
      return mustCli(['bundle', 'show', '-format', 'pem']);
    },

    async issuedIds(): Promise<string[]> {
      const r = await run(agentBin, ['api', 'fetch', 'x509', '-socketPath', socketPath, '-output', 'json']);
      if (r.code !== 0) return [];
      return [...r.stdout.matchAll(/"spiffe_id":\s*"([^"]+)"/g)].map((m) => m[1]!).sort();
    },

    serverCli,
    stopAgent,
    startAgent,
    async restartAgent(): Promise<void> {
      await stopAgent();
      await startAgent();
    },
    stopServer,
    startServer: resumeServer,
    pids: () => ({ server: alive(server) ? server?.pid : undefined, agent: alive(agent) ? agent?.pid : undefined }),
    stop,
    logs,
  };
  return spire;
}
