import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { isHelperError } from '../../src/errors.js';
import { Metrics } from '../../src/metrics.js';
import { startCli, writeConfig, type Running } from '../helpers/cli.js';
import { devAgent } from '../helpers/dev-agent.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/** Sample values by series (`name` or `name{labels}`), from the Prometheus text format. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** The port of the health listener, from the helper's start-up log line. */
async function listenerPort(run: Running): Promise<number> {
  const m = await waitFor('the health listener to start', () => /health listener started address=[\d.]+:(\d+)/.exec(run.stderr()));
  return Number(m[1]);
}

async function scrape(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseMetrics(await res.text());
}

const HEALTH = `[health_checks]\nlistener_enabled = true\nbind_port = 0\nmetrics_enabled = true\n`;

test('/metrics: rotations, expiry, JWT expiry by file, last update, and reconnects once the agent is gone', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600, jwtTtlSeconds: 600 });
  const started = Date.now() / 1000;
  const jwt = `jwt_svids = [{ jwt_audience = "api", jwt_svid_file_name = "api.jwt" }]\n`;
  const run = startCli(['--config', writeConfig(dir, agent.address, jwt + HEALTH)]);
  try {
    const port = await listenerPort(run);
    let m = await waitFor('the first SVID and token to be counted', async () => {
      const s = await scrape(port);
      return s.get('spiffe_helper_rotations_total')! >= 1 && s.has('spiffe_helper_jwt_svid_expiry_seconds{file="api.jwt"}') ? s : undefined;
    });
    const first = m.get('spiffe_helper_rotations_total')!;
    const expiry = m.get('spiffe_helper_x509_svid_expiry_seconds')!;
    assert.ok(expiry > 3500 && expiry <= 3600, `x509 expiry ${expiry} s for a 3600 s SVID`);
    const jwtExpiry = m.get('spiffe_helper_jwt_svid_expiry_seconds{file="api.jwt"}')!;
    assert.ok(jwtExpiry > 500 && jwtExpiry <= 600, `jwt expiry ${jwtExpiry} s for a 600 s token`);
    const last = m.get('spiffe_helper_last_update_timestamp_seconds')!;
    assert.ok(last >= started - 1 && last <= Date.now() / 1000 + 1, `last update ${last}, started ${started}`);
    assert.equal(m.get('spiffe_helper_write_failures_total'), 0);
    assert.equal(m.get('spiffe_helper_child_restarts_total'), 0);
    assert.equal(m.get('spiffe_helper_reconnects_total'), 0);

    await agent.rotate();
    m = await waitFor('the rotation to be counted', async () => {
      const s = await scrape(port);
      return s.get('spiffe_helper_rotations_total') === first + 1 ? s : undefined;
    });
    assert.ok(m.get('spiffe_helper_last_update_timestamp_seconds')! >= last);

    await agent.close();
    await waitFor('reconnects to be counted', async () => (await scrape(port)).get('spiffe_helper_reconnects_total')! >= 2, 10_000);
    // The expiry keeps counting down while the agent is away; the files stay.
    const later = (await scrape(port)).get('spiffe_helper_x509_svid_expiry_seconds')!;
    assert.ok(later > 0 && later < 3600);
  } finally {
    run.child.kill('SIGTERM');
    const r = await run.result;
    assert.equal(r.code, 0, r.stderr);
  }
});

test('/metrics is off unless metrics_enabled; a wrapped cmd restart is counted', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const cmd = `cmd = "sh"\ncmd_args = ["-c", "sleep 0.2; exit 3"]\nrenew_signal = "SIGHUP"\ncmd_restart_policy = "on-failure"\n`;
  const off = startCli(['--config', writeConfig(dir, agent.address, `[health_checks]\nlistener_enabled = true\nbind_port = 0\n`)]);
  try {
    const res = await fetch(`http://127.0.0.1:${await listenerPort(off)}/metrics`);
    assert.equal(res.status, 404);
  } finally {
    off.child.kill('SIGTERM');
    await off.result;
  }
  const on = startCli(['--config', writeConfig(dir, agent.address, cmd + HEALTH)]);
  try {
    const port = await listenerPort(on);
    await waitFor('a restart to be counted', async () => (await scrape(port)).get('spiffe_helper_child_restarts_total')! >= 1, 10_000);
  } finally {
    on.child.kill('SIGTERM');
    await on.result;
  }
});

test('metrics_enabled needs the listener', () => {
  const base = `cert_dir = "c"\nsvid_file_name = "a"\nsvid_key_file_name = "b"\nsvid_bundle_file_name = "c"\n`;
  assert.throws(
    () => parseConfig(`${base}[health_checks]\nmetrics_enabled = true\n`, 'helper.conf', {}),
    (e) => isHelperError(e, 'config') && /health_checks\.metrics_enabled: metrics are served by the health listener/.test(e.message),
  );
  assert.throws(
    () => parseConfig(`${base}[health_checks]\nlistener_enabled = true\nmetrics_enabled = true\nreadiness_path = "/metrics"\n`, 'helper.conf', {}),
    (e) => isHelperError(e, 'config') && /readiness_path: must not be \/metrics/.test(e.message),
  );
});

test('the text format: HELP and TYPE for every family, escaped labels, nothing before the first update', () => {
  const m = new Metrics();
  const empty = m.render();
  assert.doesNotMatch(empty, /^spiffe_helper_x509_svid_expiry_seconds /m, 'no expiry sample before an SVID');
  assert.match(empty, /^spiffe_helper_last_update_timestamp_seconds 0$/m);
  const now = new Date('2030-01-01T00:00:00Z');
  m.x509Written(new Date(now.getTime() + 90_500), now);
  m.jwtSvidWritten('a"b\\c.jwt', new Date(now.getTime() - 1000), true, now);
  m.refused('chain_untrusted');
  m.refused('hint_not_sent');
  m.refused('chain_untrusted');
  const text = m.render(now);
  for (const family of [
    'build_info',
    'x509_svid_expiry_seconds',
    'x509_svid_expiry_timestamp_seconds',
    'jwt_svid_expiry_seconds',
    'jwt_svid_expiry_timestamp_seconds',
    'rotations_total',
    'write_failures_total',
    'refused_updates_total',
    'reconnects_total',
    'child_restarts_total',
    'last_update_timestamp_seconds',
  ]) {
    assert.match(text, new RegExp(`^# HELP spiffe_helper_${family} .+\n# TYPE spiffe_helper_${family} (counter|gauge)$`, 'm'));
  }
  assert.match(text, /^spiffe_helper_x509_svid_expiry_seconds 90\.500$/m);
  assert.match(text, /^spiffe_helper_jwt_svid_expiry_seconds\{file="a\\"b\\\\c\.jwt"\} -1$/m);
  assert.match(text, /^spiffe_helper_last_update_timestamp_seconds 1893456000$/m);
  assert.match(text, /^spiffe_helper_x509_svid_expiry_timestamp_seconds 1893456090\.500$/m);
  assert.match(text, /^spiffe_helper_jwt_svid_expiry_timestamp_seconds\{file="a\\"b\\\\c\.jwt"\} 1893455999$/m);
  assert.match(text, /^spiffe_helper_refused_updates_total\{reason="chain_untrusted"\} 2\nspiffe_helper_refused_updates_total\{reason="hint_not_sent"\} 1$/m);
});

/** `promtool check metrics` (Debian's prometheus package): the exposition parses and passes Prometheus' lint. */
function promtoolCheck(text: string): void {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.ok(!r.error, `promtool is needed (scripts/install-test-deps.sh installs it): ${r.error?.message}`);
  assert.equal(r.status, 0, `promtool check metrics: ${r.stdout}${r.stderr}\n${text}`);
}

test('/metrics of a running helper passes promtool check metrics, with build info, process metrics, expiry timestamps and refusals by reason', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600, jwtTtlSeconds: 600 });
  const spawned = Date.now() / 1000;
  const jwt = `jwt_svids = [{ jwt_audience = "api", jwt_svid_file_name = "api.jwt" }]\n`;
  const run = startCli(['--config', writeConfig(dir, agent.address, jwt + HEALTH)]);
  try {
    const port = await listenerPort(run);
    await waitFor('the first SVID and token', async () => {
      const s = await scrape(port);
      return s.get('spiffe_helper_rotations_total')! >= 1 && s.has('spiffe_helper_jwt_svid_expiry_seconds{file="api.jwt"}');
    });
    // A refusal: the new certificate with the old key.
    const old = agent.current()!.svids[0]!;
    await agent.rotate();
    agent.pushX509({ svids: [{ ...agent.current()!.svids[0]!, x509_svid_key: old.x509_svid_key }] });
    const text = await waitFor('the refusal to be counted', async () => {
      const t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return /^spiffe_helper_refused_updates_total\{reason="[a-z0-9_]+"\} 1$/m.test(t) ? t : undefined;
    });
    promtoolCheck(text);
    const m = parseMetrics(text);
    const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    assert.equal(m.get(`spiffe_helper_build_info{version="${version}"}`), 1);
    const x509Expiry = m.get('spiffe_helper_x509_svid_expiry_timestamp_seconds')!;
    assert.ok(Math.abs(x509Expiry - (Date.now() / 1000 + m.get('spiffe_helper_x509_svid_expiry_seconds')!)) < 5, `timestamp ${x509Expiry} beside the relative gauge`);
    const jwtExpiry = m.get('spiffe_helper_jwt_svid_expiry_timestamp_seconds{file="api.jwt"}')!;
    assert.ok(jwtExpiry > Date.now() / 1000 + 500 && jwtExpiry <= Date.now() / 1000 + 600, `jwt expiry timestamp ${jwtExpiry}`);

    const pid = run.child.pid!;
    const start = m.get('process_start_time_seconds')!;
    assert.ok(start >= spawned - 2 && start <= Date.now() / 1000, `start time ${start}, spawned at ${spawned}`);
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    assert.ok(Math.abs(m.get('process_open_fds')! - fds) <= 3, `process_open_fds ${m.get('process_open_fds')} while /proc says ${fds}`);
    const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
    assert.ok(Math.abs(m.get('process_resident_memory_bytes')! / 1024 - rssKb) < rssKb / 4, `rss ${m.get('process_resident_memory_bytes')} B, /proc says ${rssKb} kB`);
    const [utime, stime] = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ').slice(11, 13).map(Number);
    const cpu = (utime! + stime!) / 100;
    assert.ok(m.get('process_cpu_seconds_total')! > 0 && Math.abs(m.get('process_cpu_seconds_total')! - cpu) < 0.5, `cpu ${m.get('process_cpu_seconds_total')} s, /proc says ${cpu} s`);
    assert.ok(m.get('process_max_fds')! > 0);
  } finally {
    run.child.kill('SIGTERM');
    const r = await run.result;
    assert.equal(r.code, 0, r.stderr);
  }
});

test('promtool check metrics: the empty state and odd label values pass too', () => {
  const m = new Metrics();
  promtoolCheck(m.render());
  m.jwtSvidWritten('we"ird\\name\n.jwt', new Date(), true);
  m.refused('too_large');
  promtoolCheck(m.render());
});

test('a JWT bundle with a trust domain that cannot be a file name: that domain gets no file, the others are written; neither a refusal nor a write retried forever', async () => {
  const dir = tempDir();
  const agent = await devAgent(dir, { svidTtlSeconds: 3600 });
  const jwks = `jwt_bundle_format = "jwks"\njwt_bundle_file_name = "jwt_{trust_domain}.json"\n`;
  const run = startCli(['--config', writeConfig(dir, agent.address, jwks + HEALTH)]);
  try {
    const port = await listenerPort(run);
    await waitFor('the first JWT bundle file', () => readdirSync(join(dir, 'certs')).includes('jwt_example.org.json'));
    // A valid trust domain name, too long for a file name with its temporary's suffix, beside a good one.
    agent.setFederatedTrustDomains([`${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(50)}.org`, 'partner.org']);
    await agent.rotate();
    await waitFor("the good partner's file", () => readdirSync(join(dir, 'certs')).includes('jwt_partner.org.json'));
    await waitFor('the warning', () => /WARN {2}no jwt bundle file for a trust domain whose name cannot be a file name/.test(run.stderr()));
    const m = await scrape(port);
    assert.equal(m.get('spiffe_helper_write_failures_total'), 0);
    assert.equal(m.get('spiffe_helper_refused_updates_total{reason="bad_file_name"}') ?? 0, 0);
    assert.doesNotMatch(run.stderr(), /jwt bundle write failed|rejected update/);
  } finally {
    run.child.kill('SIGTERM');
    const r = await run.result;
    assert.equal(r.code, 0, r.stderr);
  }
});
