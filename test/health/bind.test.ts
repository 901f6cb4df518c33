/** bind_address values a person may write by mistake: each start-up error names the key and says what to change. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isHelperError } from '../../src/errors.js';
import { startHealthServer } from '../../src/health/listener.js';
import { HealthState } from '../../src/health/state.js';
import { silentLogger } from '../../src/log.js';
import { tempDir } from '../helpers/tmp.js';

const cases: { name: string; address: string; says: RegExp }[] = [
  { name: 'an IPv4 address with its port', address: '127.0.0.1:8081', says: /^health_checks\.bind_address: "127\.0\.0\.1:8081" holds a port: write the address alone here and the port in bind_port/ },
  { name: 'a bracketed IPv6 address with its port', address: '[::1]:8081', says: /^health_checks\.bind_address: "\[::1\]:8081" holds a port/ },
  { name: 'a host name with its port', address: 'localhost:8081', says: /^health_checks\.bind_address: "localhost:8081" holds a port/ },
  {
    name: 'a link-local IPv6 address without its zone (EINVAL)',
    address: 'fe80::1',
    says: /^health_checks\.bind_address: cannot listen on "fe80::1": not an address of this host \(EINVAL; a link-local IPv6 address needs its zone/,
  },
  { name: 'a name that does not resolve', address: 'no-such-host.invalid', says: /^health_checks\.bind_address: cannot listen on "no-such-host\.invalid": not an address of this host \(ENOTFOUND\)/ },
];

for (const c of cases) {
  test(`bind_address: ${c.name} is a health error naming the key`, async () => {
    const state = new HealthState({ certDir: tempDir(), x509: false, jwtFiles: [] });
    const config = { enabled: true, bindAddress: c.address, port: 0, livenessPath: '/live', readinessPath: '/ready', metricsEnabled: false };
    await assert.rejects(startHealthServer(config, state, silentLogger), (e) => isHelperError(e, 'health') && c.says.test(e.message));
  });
}
