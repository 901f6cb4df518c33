import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseDevAgentArgs, serveDevAgent } from '../../src/cli/dev-agent.js';
import { isHelperError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';

const dir = mkdtempSync(join(tmpdir(), 'sh-cmd-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('dev-agent flags', () => {
  it('has working defaults', () => {
    assert.deepEqual(parseDevAgentArgs([]), {
      socketPath: '/tmp/spiffe-helper-dev/agent.sock',
      trustDomain: 'example.org',
      identities: [{ spiffeId: 'spiffe://example.org/workload' }],
      svidTtlSeconds: 60,
      jwtTtlSeconds: 300,
      intermediate: false,
      federatedTrustDomains: [],
      keyType: 'ec-p256',
      jwtAlg: 'ES256',
    });
  });

  it('reads repeatable identities with hints and takes the trust domain from the first', () => {
    const options = parseDevAgentArgs([
      '--spiffe-id',
      'spiffe://acme.org/web#internal',
      '--spiffe-id=spiffe://acme.org/db',
      '--federate',
      'partner.org',
      '--federate',
      'other.org',
      '--ttl',
      '2m',
      '--jwt-ttl',
      '45',
      '--intermediate',
      '--key-type',
      'rsa-2048',
      '--jwt-alg',
      'RS256',
    ]);
    assert.ok(options !== 'help');
    assert.equal(options.trustDomain, 'acme.org');
    assert.deepEqual(options.identities, [{ spiffeId: 'spiffe://acme.org/web', hint: 'internal' }, { spiffeId: 'spiffe://acme.org/db' }]);
    assert.deepEqual(options.federatedTrustDomains, ['partner.org', 'other.org']);
    assert.equal(options.svidTtlSeconds, 120);
    assert.equal(options.jwtTtlSeconds, 45);
    assert.equal(options.intermediate, true);
    assert.equal(options.keyType, 'rsa-2048');
    assert.equal(options.jwtAlg, 'RS256');
  });

  it('returns help for --help and -h', () => {
    assert.equal(parseDevAgentArgs(['--help']), 'help');
    assert.equal(parseDevAgentArgs(['-h']), 'help');
  });

  it('turns bad flags into usage errors that name the flag', () => {
    const cases: [string[], RegExp][] = [
      [['--nope'], /--nope/],
      [['extra'], /extra/],
      [['--ttl', 'soon'], /--ttl: "soon" is not a duration/],
      [['--jwt-ttl', '5x'], /--jwt-ttl: "5x" is not a duration/],
      [['--key-type', 'dsa'], /--key-type "dsa": must be one of ec-p256, ec-p384, rsa-2048, ed25519/],
      [['--jwt-alg', 'HS256'], /--jwt-alg "HS256": must be one of ES256, RS256/],
      [['--spiffe-id', 'spiffe://Acme.org/x'], /--spiffe-id: "spiffe:\/\/Acme.org\/x": trust domain/],
      [['--trust-domain', 'Acme.org'], /--trust-domain: trust domain "Acme.org"/],
      [['--federate', 'a b'], /--federate: trust domain "a b"/],
      [['--socket'], /--socket/],
    ];
    for (const [argv, message] of cases) {
      assert.throws(
        () => parseDevAgentArgs(argv),
        (e) => isHelperError(e, 'usage') && message.test(e.message) && /--help/.test(e.message),
        argv.join(' '),
      );
    }
  });
});

describe('serveDevAgent', () => {
  it('logs where it listens and what it issues, and stops cleanly on abort', async () => {
    const lines: string[] = [];
    const log = createLogger({ format: 'json', write: (line) => lines.push(line) });
    const socket = join(dir, 'agent.sock');
    const abort = new AbortController();
    const options = parseDevAgentArgs(['--socket', socket, '--spiffe-id', 'spiffe://acme.org/web']);
    assert.ok(options !== 'help');
    const running = serveDevAgent(options, log, abort.signal);
    const deadline = Date.now() + 5000;
    while (!lines.some((l) => l.includes('dev agent listening')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const records = lines.map((l) => JSON.parse(l) as Record<string, string>);
    const listening = records.find((r) => r['msg'] === 'dev agent listening');
    assert.ok(listening, 'listening line logged');
    assert.equal(listening['socket'], socket);
    assert.equal(listening['trust_domain'], 'acme.org');
    assert.equal(listening['spiffe_ids'], 'spiffe://acme.org/web');
    assert.equal(listening['svid_ttl'], '60s');
    const issued = records.find((r) => r['msg'] === 'dev agent issued X.509-SVID');
    assert.equal(issued?.['spiffe_id'], 'spiffe://acme.org/web');
    assert.match(issued?.['serial'] ?? '', /^[0-9A-F]{32}$/);
    assert.ok(new Date(issued?.['not_after'] ?? 0).getTime() > Date.now());
    assert.ok(existsSync(socket));

    abort.abort();
    assert.equal(await running, 0);
    assert.equal(existsSync(socket), false, 'the socket is removed on stop');
  });
});
