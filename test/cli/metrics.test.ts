import assert from 'node:assert/strict';
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
  const text = m.render(now);
  for (const family of ['x509_svid_expiry_seconds', 'jwt_svid_expiry_seconds', 'rotations_total', 'write_failures_total', 'reconnects_total', 'child_restarts_total', 'last_update_timestamp_seconds']) {
    assert.match(text, new RegExp(`^# HELP spiffe_helper_${family} .+\n# TYPE spiffe_helper_${family} (counter|gauge)$`, 'm'));
  }
  assert.match(text, /^spiffe_helper_x509_svid_expiry_seconds 90\.500$/m);
  assert.match(text, /^spiffe_helper_jwt_svid_expiry_seconds\{file="a\\"b\\\\c\.jwt"\} -1$/m);
  assert.match(text, /^spiffe_helper_last_update_timestamp_seconds 1893456000$/m);
});
