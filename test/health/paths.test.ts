/**
 * The probe paths: what a configured path can be, and which requests name it. A request target
 * is percent-encoded on the wire (a kubelet or curl sends `/sant%C3%A9` for `/santé`), and Go's
 * ServeMux matches the decoded path; a path no request can reach, or two probes on one path,
 * are config errors naming the key.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { isHelperError } from '../../src/errors.js';
import { startHealthServer } from '../../src/health/listener.js';
import { HealthState } from '../../src/health/state.js';
import { silentLogger } from '../../src/log.js';
import { statusLine } from '../helpers/raw-http.js';
import { tempDir } from '../helpers/tmp.js';

const base = `cert_dir = "c"\nsvid_file_name = "a"\nsvid_key_file_name = "b"\nsvid_bundle_file_name = "c"\n[health_checks]\nlistener_enabled = true\nbind_port = 0\n`;

const configErrors: { name: string; keys: string; says: RegExp }[] = [
  {
    name: 'liveness and readiness on the same path',
    keys: 'liveness_path = "/healthz"\nreadiness_path = "/healthz"\n',
    says: /health_checks\.readiness_path: must differ from liveness_path \("\/healthz"\)/,
  },
  { name: 'a query string in the path', keys: 'readiness_path = "/health?probe=ready"\n', says: /health_checks\.readiness_path: .*"\?"/ },
  { name: 'a fragment in the path', keys: 'liveness_path = "/live#x"\n', says: /health_checks\.liveness_path: .*"#"/ },
];

for (const c of configErrors) {
  test(`health paths: ${c.name} is a config error naming the key`, () => {
    assert.throws(
      () => parseConfig(base + c.keys, 'helper.conf', {}),
      (e) => isHelperError(e, 'config') && c.says.test(e.message),
    );
  });
}

async function withListener(livenessPath: string, body: (get: (target: string) => Promise<string>) => Promise<void>): Promise<void> {
  const state = new HealthState({ certDir: tempDir(), x509: false, jwtFiles: [] });
  const config = { enabled: true, bindAddress: '127.0.0.1', port: 0, livenessPath, readinessPath: '/ready', metricsEnabled: false };
  const server: Server = await startHealthServer(config, state, silentLogger);
  const port = (server.address() as { port: number }).port;
  const get = (target: string): Promise<string> => statusLine(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  try {
    await body(get);
  } finally {
    await new Promise((r) => server.close(r));
  }
}

const targets: { name: string; path: string; target: string; status: number }[] = [
  { name: 'an unreserved letter percent-encoded', path: '/live', target: '/liv%65', status: 200 },
  { name: 'a non-ASCII path as UTF-8 escapes', path: '/santé', target: '/sant%C3%A9', status: 200 },
  { name: 'a space in the path', path: '/my probe', target: '/my%20probe', status: 200 },
  { name: 'escapes in an absolute-form target', path: '/santé', target: 'http://x/sant%C3%A9?full=1', status: 200 },
  { name: 'a lone percent sign', path: '/live', target: '/live%', status: 404 },
  { name: 'escapes that are not UTF-8', path: '/live', target: '/live%E0%A4', status: 404 },
];

for (const c of targets) {
  test(`health paths: ${c.name} (${c.target} for ${JSON.stringify(c.path)}) → ${c.status}`, async () => {
    await withListener(c.path, async (get) => {
      assert.match(await get(c.target), new RegExp(` ${c.status} `));
      assert.match(await get('/ready'), / 503 | 200 /, 'the listener still answers');
    });
  });
}

/**
 * The Go helper's probe handlers answer whatever the method (http.HandleFunc), and some
 * checkers do not send GET: HAProxy's `option httpchk /ready` sends OPTIONS. A drop-in answers
 * them the same; /metrics stays GET (and HEAD).
 */
for (const method of ['OPTIONS', 'POST', 'PUT', 'DELETE', 'PATCH']) {
  test(`health probes: ${method} on the probe paths is answered as GET (as the Go helper does); /metrics is not`, async () => {
    const state = new HealthState({ certDir: tempDir(), x509: false, jwtFiles: [] });
    const config = { enabled: true, bindAddress: '127.0.0.1', port: 0, livenessPath: '/live', readinessPath: '/ready', metricsEnabled: true };
    const server: Server = await startHealthServer(config, state, silentLogger);
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const live = await fetch(`${base}/live`, { method });
      assert.equal(live.status, 200);
      assert.equal(((await live.json()) as { live: boolean }).live, true);
      assert.equal((await fetch(`${base}/ready`, { method })).status, 200);
      assert.equal((await fetch(`${base}/metrics`, { method })).status, 404);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
}
