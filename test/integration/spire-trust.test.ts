/**
 * Trust decisions against a real SPIRE server + agent (test/helpers/spire.ts), with the shipped
 * command (bin/spiffe-helper): what SPIRE legitimately sends must never be refused.
 *  - a federated partner with only JWT authorities: SPIRE sends it an empty X.509 bundle;
 *  - an UpstreamAuthority ("disk", an openssl-made root): leaf <- SPIRE CA <- upstream root;
 *  - X.509 CA rotations (`localauthority x509 prepare` / `activate`), with and without upstream.
 * Run: npm run build && node --import tsx --test test/integration/spire-trust.test.ts
 * Every test skips, printing why, when SPIRE cannot be had.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fromPem, toPem } from '../../src/spiffe/pem.js';
import { issue } from '../helpers/certs.js';
import { launcherPath, runCli, writeConfig } from '../helpers/cli.js';
import { opensslVerify } from '../helpers/openssl.js';
import { spireUnavailableReason, type Spire } from '../helpers/spire.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { isRejected, isWritten, type Helper, type LogLine } from '../hardening/lib.js';
import { helper, spire } from './spire-probes.js';

const unavailable = spireUnavailableReason();
const skip = unavailable ? `SPIRE unavailable: ${unavailable}` : false;
const TIMEOUT = 240_000;
const ID = 'spiffe://example.org/trust';

const certsOf = (file: string) => fromPem(readFileSync(file, 'utf8'), 'CERTIFICATE').map((d) => new X509Certificate(d));
const refusals = (h: Helper): LogLine[] => h.lines().filter(isRejected);

/** Waits for `n` more writes of new SVIDs (distinct serials) after `from`. */
async function rotations(h: Helper, from: number, n: number, timeoutMs = 60_000): Promise<string[]> {
  return waitFor(
    `${n} rotations`,
    () => {
      const serials = [
        ...new Set(
          h
            .lines(from)
            .filter(isWritten)
            .map((l) => String(l.serial)),
        ),
      ];
      return serials.length >= n ? serials : undefined;
    },
    timeoutMs,
    100,
  );
}

test('a federated partner with only JWT authorities (empty X.509 bundle): the own SVID keeps rotating, its file goes, --once succeeds', { skip, timeout: TIMEOUT }, async () => {
  const s = await spire();
  // First the partner has an X.509 CA, so that the helper writes a file for it.
  const partnerCa = await issue({ ca: true, uris: ['spiffe://partner.org'], name: 'partner root' });
  await s.setFederatedBundle('partner.org', toPem('CERTIFICATE', partnerCa.der));
  await s.createEntry({ spiffeId: ID, federatesWith: ['partner.org'], x509SvidTtl: 10 });
  const dir = tempDir();
  const certs = join(dir, 'certs');
  const config = writeConfig(dir, s.address, 'include_federated_domains = true\nfederated_bundle_file_name = "federated_{trust_domain}.pem"\n');
  const h = helper(config);
  await waitFor('the partner file', () => existsSync(join(certs, 'federated_partner.org.pem')) || undefined, 60_000);

  // Then only a JWT authority: SPIRE's agent sends federated_bundles["spiffe://partner.org"] = <empty>.
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), use: 'jwt-svid', kid: 'partner-jwt' }], spiffe_sequence: 2 };
  const set = await s.serverCli(['bundle', 'set', '-format', 'spiffe', '-id', 'spiffe://partner.org'], JSON.stringify(jwks));
  assert.equal(set.code, 0, set.stderr);
  const m = h.mark();
  await waitFor('the partner file to go', () => !existsSync(join(certs, 'federated_partner.org.pem')) || undefined, 60_000);
  assert.ok(!certsOf(join(certs, 'bundle.pem')).some((c) => c.subject.includes('partner root')), 'no partner CA in bundle.pem');
  assert.ok(h.lines().some((l) => /empty x509 bundle/.test(l.msg) && l.trust_domains === 'partner.org'));
  // The workload's own SVID keeps rotating (10 s TTL: about every 5 s).
  await rotations(h, m, 2);
  assert.deepEqual(refusals(h), [], 'nothing SPIRE sent was refused');

  const once = tempDir();
  const r = await runCli(['--config', writeConfig(once, s.address, 'federated_bundle_file_name = "federated_{trust_domain}.pem"\n'), '--once', '--timeout', '30s'], { command: launcherPath });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(existsSync(join(once, 'certs', 'federated_partner.org.pem')), false);
});

/** Prepares and activates a new X.509 CA; resolves to its authority ID. */
async function rotateCa(s: Spire): Promise<string> {
  const prepared = await s.serverCli(['localauthority', 'x509', 'prepare', '-output', 'json']);
  assert.equal(prepared.code, 0, prepared.stderr);
  const id = (JSON.parse(prepared.stdout) as { prepared_authority: { authority_id: string } }).prepared_authority.authority_id;
  const activated = await s.serverCli(['localauthority', 'x509', 'activate', '-authorityID', id, '-output', 'json']);
  assert.equal(activated.code, 0, activated.stderr);
  return id;
}

/** The helper's files verify with openssl, and the leaf was issued by a CA with this subject key id. */
function issuerKeyId(certs: string): string {
  opensslVerify(join(certs, 'bundle.pem'), join(certs, 'svid.pem'));
  const text = execFileSync('openssl', ['x509', '-in', join(certs, 'svid.pem'), '-noout', '-ext', 'authorityKeyIdentifier'], { encoding: 'utf8' });
  return text.replace(/^.*\n/, '').replace(/keyid:|\s/g, '');
}

test('an X.509 CA rotation (prepare, activate) is followed without a refusal', { skip, timeout: TIMEOUT }, async () => {
  const s = await spire();
  await s.createEntry({ spiffeId: ID, x509SvidTtl: 10 });
  const dir = tempDir();
  const certs = join(dir, 'certs');
  const h = helper(writeConfig(dir, s.address));
  await h.waitFor('the first write', 0, isWritten, 60_000);
  const before = issuerKeyId(certs);
  const m = h.mark();
  await rotateCa(s);
  // The new CA reaches the bundle, then signs the next SVIDs.
  await waitFor('an SVID signed by the new CA', () => (h.lines(m).some(isWritten) && issuerKeyId(certs) !== before) || undefined, 90_000, 200);
  assert.ok(certsOf(join(certs, 'bundle.pem')).length >= 2, 'old and new CA in the bundle');
  assert.deepEqual(refusals(h), []);
});

test('UpstreamAuthority "disk" with an openssl-made root: leaf <- SPIRE CA <- upstream root verifies, rotates, survives a CA rotation', { skip, timeout: TIMEOUT }, async () => {
  const up = tempDir();
  const [key, crt] = [join(up, 'root.key'), join(up, 'root.crt')];
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      crt,
      '-days',
      '3',
      '-subj',
      '/O=Upstream Org/CN=upstream root',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    { stdio: 'ignore' },
  );
  const s = await spire({ serverPlugins: `    UpstreamAuthority "disk" {\n        plugin_data {\n            cert_file_path = "${crt}"\n            key_file_path = "${key}"\n        }\n    }\n` });
  await s.createEntry({ spiffeId: ID, x509SvidTtl: 10 });
  const dir = tempDir();
  const certs = join(dir, 'certs');
  const h = helper(writeConfig(dir, s.address));
  await h.waitFor('the first write', 0, isWritten, 60_000);

  const chain = certsOf(join(certs, 'svid.pem'));
  assert.equal(chain.length, 2, 'leaf and the SPIRE CA');
  const bundle = certsOf(join(certs, 'bundle.pem'));
  assert.ok(
    bundle.some((c) => c.subject.includes('CN=upstream root')),
    'the upstream root is the trust anchor',
  );
  assert.ok(chain[1]!.checkIssued(bundle.find((c) => c.subject.includes('upstream root'))!), 'the SPIRE CA is signed by the upstream root');
  const before = issuerKeyId(certs);

  const m = h.mark();
  await rotations(h, m, 2);
  await rotateCa(s);
  await waitFor('an SVID signed by the new SPIRE CA', () => issuerKeyId(certs) !== before || undefined, 90_000, 200);
  assert.equal(certsOf(join(certs, 'svid.pem')).length, 2);
  assert.deepEqual(refusals(h), [], 'nothing SPIRE sent was refused');
});
