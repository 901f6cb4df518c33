/**
 * Hostile responses: a corpus of malformed or invalid X509SVIDResponses pushed by the dev
 * agent to one running helper, in sequence. For each: a specific rejection is logged, the
 * files on disk are byte-for-byte unchanged (same inodes: nothing was even rewritten), no
 * temporary file is left in cert_dir, and the next good update is applied.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startDevAgent, type DevAgent, type RawX509SVIDResponse } from '../../src/dev/agent.js';
import type { X509SVIDMessage } from '../../src/workload/proto.js';
import { writeConfig } from '../helpers/cli.js';
import { issue, KeyUsageFlags, type CertOptions, type Issued } from '../helpers/certs.js';
import { assertUnchanged, Helper, isRejected, isWritten, leafSerial, leftovers, scope, serialOf, snapshot, type LogLine } from './lib.js';

const TD = 'example.org';
const MAIN = `spiffe://${TD}/workload`;
const OTHER = `spiffe://${TD}/other`;

interface Case {
  name: string;
  build: () => RawX509SVIDResponse;
  /** Matched against the logged reason. */
  reject: RegExp;
}

const s = scope('shh-');
const certs = join(s.dir, 'certs');
let agent: DevAgent;
let helper: Helper;
let root: Issued;
let otherRoot: Issued;

before(async () => {
  agent = await startDevAgent({
    socketPath: join(s.dir, 'agent.sock'),
    svidTtlSeconds: 3600,
    identities: [
      { spiffeId: MAIN, hint: 'main' },
      { spiffeId: OTHER, hint: 'other' },
    ],
    federatedTrustDomains: ['partner.org'],
  });
  s.defer(() => agent.close());
  root = await issue({ ca: true, uris: [`spiffe://${TD}`], name: `${TD} root` });
  otherRoot = await issue({ ca: true, uris: [`spiffe://${TD}`], name: `${TD} other root` });
  helper = Helper.start(writeConfig(s.dir, agent.address, 'hint = "main"\nfederated_bundle_file_name = "federated_{trust_domain}.pem"\n'));
  s.defer(() => helper.stop());
  await helper.waitFor('the first write', 0, isWritten);
});

/** The agent's current good state, copied so that a case can change it freely. */
function good(): RawX509SVIDResponse & { svids: Partial<X509SVIDMessage>[]; federated_bundles: Record<string, Buffer> } {
  const cur = agent.current()!;
  return { svids: cur.svids.map((sv) => ({ ...sv })), crl: [], federated_bundles: { ...cur.federated_bundles } };
}

/** The good state with the selected SVID (hint "main") changed. */
function withMain(change: Partial<X509SVIDMessage>): RawX509SVIDResponse {
  const msg = good();
  msg.svids[0] = { ...msg.svids[0], ...change };
  return msg;
}

/** The good state whose selected SVID is this leaf (signed by our own test root). */
function withLeaf(leaf: Issued, change: Partial<X509SVIDMessage> = {}, chain: Buffer[] = []): RawX509SVIDResponse {
  return withMain({ spiffe_id: MAIN, x509_svid: Buffer.concat([leaf.der, ...chain]), x509_svid_key: leaf.keyDer, bundle: root.der, ...change });
}

const leafOf = (o: CertOptions) => issue({ uris: [MAIN], issuer: root, ...o });
const garbage = (n: number, seed = 7) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) % 256));
const notACert = Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00]);
const pem = (label: string, der: Buffer) => Buffer.from(`-----BEGIN ${label}-----\n${der.toString('base64')}\n-----END ${label}-----\n`);

async function corpus(): Promise<Case[]> {
  const base = good();
  const mainDer = base.svids[0]!.x509_svid as Buffer;
  const mainKey = base.svids[0]!.x509_svid_key as Buffer;
  const otherKey = base.svids[1]!.x509_svid_key as Buffer;
  const ecLeaf = await leafOf({});
  const stranger = await leafOf({});
  const rsa = await issue({ keyType: 'rsa-2048', uris: [MAIN], issuer: root });
  const ed = await issue({ keyType: 'ed25519', uris: [MAIN], issuer: root });
  const nonCaInter = await issue({ issuer: root, name: 'not a CA' });
  const leafUnderNonCa = await issue({ uris: [MAIN], issuer: nonCaInter });
  const inter = await issue({ ca: true, issuer: root, keyUsage: KeyUsageFlags.cRLSign, name: 'CA without keyCertSign' });
  const leafUnderInter = await issue({ uris: [MAIN], issuer: inter });
  const longId = `spiffe://${TD}/${'a'.repeat(2100)}`;

  return [
    // The response as a whole
    { name: 'empty svids list', build: () => ({ ...good(), svids: [] }), reject: /the response holds no SVIDs/ },
    { name: 'no fields at all', build: () => ({}), reject: /the response holds no SVIDs/ },
    // The certificate chain bytes
    { name: 'empty chain', build: () => withMain({ x509_svid: Buffer.alloc(0) }), reject: /certificate chain is empty/ },
    { name: 'truncated DER chain', build: () => withMain({ x509_svid: mainDer.subarray(0, mainDer.length >> 1) }), reject: /chain: not a sequence of DER certificates \(truncated DER element\)/ },
    {
      name: 'one byte of trailing garbage',
      build: () => withMain({ x509_svid: Buffer.concat([mainDer, Buffer.from([0xff])]) }),
      reject: /chain: not a sequence of DER certificates \(truncated DER element header\)/,
    },
    {
      name: 'trailing non-SEQUENCE element',
      build: () => withMain({ x509_svid: Buffer.concat([mainDer, Buffer.from([0x04, 0x01, 0x00])]) }),
      reject: /chain: not a sequence of DER certificates \(expected a DER SEQUENCE at byte \d+\)/,
    },
    { name: 'text instead of DER', build: () => withMain({ x509_svid: Buffer.from('hello, I am not a certificate') }), reject: /chain: not a sequence of DER certificates/ },
    { name: 'PEM instead of DER', build: () => withMain({ x509_svid: pem('CERTIFICATE', mainDer) }), reject: /chain: not a sequence of DER certificates \(expected a DER SEQUENCE at byte 0\)/ },
    { name: 'a DER SEQUENCE that is not a certificate', build: () => withMain({ x509_svid: notACert }), reject: /chain: certificate 1 cannot be parsed/ },
    { name: 'multi-byte DER tag', build: () => withMain({ x509_svid: Buffer.from([0x1f, 0x81, 0x01, 0x00]) }), reject: /multi-byte DER tags are not supported/ },
    { name: 'DER length of 5 bytes', build: () => withMain({ x509_svid: Buffer.from([0x30, 0x85, 1, 0, 0, 0, 0, 0]) }), reject: /unsupported DER length encoding/ },
    // The private key
    { name: 'empty key', build: () => withMain({ x509_svid_key: Buffer.alloc(0) }), reject: /private key is not unencrypted PKCS#8 DER/ },
    { name: 'garbage key', build: () => withMain({ x509_svid_key: garbage(121) }), reject: /private key is not unencrypted PKCS#8 DER/ },
    { name: 'PEM key instead of DER', build: () => withMain({ x509_svid_key: pem('PRIVATE KEY', mainKey) }), reject: /private key is not unencrypted PKCS#8 DER/ },
    { name: 'truncated key', build: () => withMain({ x509_svid_key: mainKey.subarray(0, mainKey.length - 5) }), reject: /private key is not unencrypted PKCS#8 DER/ },
    { name: 'key of another certificate', build: () => withLeaf(ecLeaf, { x509_svid_key: stranger.keyDer }), reject: /private key does not match the leaf certificate/ },
    { name: 'key of the other SVID in the same response', build: () => withMain({ x509_svid_key: otherKey }), reject: /private key does not match the leaf certificate/ },
    { name: 'RSA key for an EC certificate', build: () => withLeaf(ecLeaf, { x509_svid_key: rsa.keyDer }), reject: /private key does not match the leaf certificate/ },
    { name: 'Ed25519 key for an EC certificate', build: () => withLeaf(ecLeaf, { x509_svid_key: ed.keyDer }), reject: /private key does not match the leaf certificate/ },
    { name: 'EC key for an RSA certificate', build: () => withLeaf(rsa, { x509_svid_key: ecLeaf.keyDer }), reject: /private key does not match the leaf certificate/ },
    // The leaf's SPIFFE ID
    { name: 'two URI SANs', build: () => withLeaf(issuedSync.twoUris!), reject: /exactly one URI SAN, has 2/ },
    { name: 'no URI SAN (DNS only)', build: () => withLeaf(issuedSync.dnsOnly!), reject: /exactly one URI SAN, has 0/ },
    { name: 'non-spiffe URI SAN', build: () => withLeaf(issuedSync.https!), reject: /URI SAN is not a valid SPIFFE ID: .*scheme must be "spiffe:\/\/"/ },
    { name: 'trust domain ID as the SVID', build: () => withLeaf(issuedSync.tdOnly!, { spiffe_id: `spiffe://${TD}` }), reject: /has no path \(trust domain IDs cannot be SVIDs\)/ },
    { name: 'upper-case trust domain', build: () => withLeaf(issuedSync.upper!), reject: /not a valid SPIFFE ID: .*trust domain may hold only lower-case/ },
    { name: 'dot segment in the path', build: () => withLeaf(issuedSync.dots!), reject: /not a valid SPIFFE ID: .*path has a dot segment/ },
    { name: 'percent-encoding in the path', build: () => withLeaf(issuedSync.percent!), reject: /not a valid SPIFFE ID: .*path may hold only letters/ },
    { name: 'port in the trust domain', build: () => withLeaf(issuedSync.port!), reject: /not a valid SPIFFE ID: .*no port/ },
    { name: 'SPIFFE ID longer than 2048 bytes', build: () => withLeaf(issuedSync.long!, { spiffe_id: longId }), reject: /longer than 2048 bytes/ },
    {
      name: 'spiffe_id field disagrees with the SAN',
      build: () => withMain({ spiffe_id: `spiffe://${TD}/impostor` }),
      reject: /leaf certificate is for spiffe:\/\/example\.org\/workload, the response says spiffe:\/\/example\.org\/impostor/,
    },
    { name: 'spiffe_id field empty', build: () => withMain({ spiffe_id: '' }), reject: /leaf certificate is for spiffe:\/\/example\.org\/workload, the response says $/ },
    { name: 'spiffe_id field of another trust domain', build: () => withMain({ spiffe_id: 'spiffe://evil.org/workload' }), reject: /the response says spiffe:\/\/evil\.org\/workload/ },
    // The leaf's constraints
    { name: 'CA certificate as the leaf', build: () => withLeaf(issuedSync.caLeaf!), reject: /must not have CA flag set to true/ },
    { name: 'leaf with keyCertSign', build: () => withLeaf(issuedSync.certSign!), reject: /must not have keyCertSign key usage/ },
    { name: 'leaf with cRLSign', build: () => withLeaf(issuedSync.crlSign!), reject: /must not have cRLSign key usage/ },
    { name: 'leaf without digitalSignature', build: () => withLeaf(issuedSync.noDigSig!), reject: /must have digitalSignature key usage/ },
    { name: 'leaf without key usage', build: () => withLeaf(issuedSync.noKu!), reject: /has no key usage extension/ },
    { name: 'expired leaf', build: () => withLeaf(issuedSync.expired!), reject: /leaf certificate expired at/ },
    { name: 'intermediate that is not a CA', build: () => withLeaf(leafUnderNonCa, {}, [nonCaInter.der]), reject: /intermediate certificate 1 is not a CA/ },
    { name: 'intermediate CA without keyCertSign', build: () => withLeaf(leafUnderInter, {}, [inter.der]), reject: /intermediate certificate 1 must have keyCertSign key usage/ },
    { name: 'truncated intermediate', build: () => withLeaf(leafUnderInter, {}, [inter.der.subarray(0, 40)]), reject: /chain: not a sequence of DER certificates \(truncated DER element\)/ },
    // The SVID's own bundle
    { name: 'empty bundle', build: () => withMain({ bundle: Buffer.alloc(0) }), reject: /the bundle of spiffe:\/\/example\.org\/workload's own trust domain "example\.org" is empty/ },
    { name: 'garbage bundle', build: () => withMain({ bundle: garbage(300) }), reject: /bundle of trust domain "example\.org": not a sequence of DER certificates/ },
    {
      name: 'bundle with a SEQUENCE that is not a certificate',
      build: () => withMain({ bundle: Buffer.concat([otherRoot.der, notACert]) }),
      reject: /bundle of trust domain "example\.org": certificate 2 cannot be parsed/,
    },
    // Federated bundles
    {
      name: 'federated bundle of garbage',
      build: () => ({ ...good(), federated_bundles: { 'spiffe://partner.org': garbage(200, 3) } }),
      reject: /bundle of trust domain "partner\.org": not a sequence of DER certificates/,
    },
    { name: 'federated key that is not a trust domain', build: () => ({ ...good(), federated_bundles: { 'not a td!': root.der } }), reject: /federated bundle key "not a td!" is not a trust domain/ },
    {
      name: 'federated key with upper case',
      build: () => ({ ...good(), federated_bundles: { 'spiffe://Partner.org': root.der } }),
      reject: /federated bundle key "spiffe:\/\/Partner\.org" is not a trust domain/,
    },
    { name: 'federated key empty', build: () => ({ ...good(), federated_bundles: { '': root.der } }), reject: /federated bundle key "" is not a trust domain: trust domain is missing/ },
    {
      name: 'federated key with a port',
      build: () => ({ ...good(), federated_bundles: { 'spiffe://partner.org:8443': root.der } }),
      reject: /federated bundle key "spiffe:\/\/partner\.org:8443" is not a trust domain/,
    },
    // Several SVIDs
    {
      name: 'duplicate hints, the first one invalid',
      build: () => {
        const m = good();
        m.svids.unshift({ ...m.svids[0], x509_svid_key: otherKey });
        return m;
      },
      reject: /x509svid "spiffe:\/\/example\.org\/workload": private key does not match/,
    },
    {
      name: 'a valid selected SVID beside an invalid one',
      build: () => {
        const m = good();
        m.svids[1] = { ...m.svids[1], x509_svid: garbage(50) };
        return m;
      },
      reject: /x509svid "spiffe:\/\/example\.org\/other": chain: not a sequence/,
    },
    {
      name: 'no SVID with the configured hint',
      build: () => {
        const m = good();
        m.svids = m.svids.map((sv) => ({ ...sv, hint: `not-${sv.hint}` }));
        return m;
      },
      reject: /no SVID has hint "main" \(the agent sent hints: "not-main", "not-other"\)/,
    },
    // Size
    {
      name: '20 MB message (valid leaf, 20 MB of zeros after it)',
      build: () => withMain({ x509_svid: Buffer.concat([mainDer, Buffer.alloc(20 << 20)]) }),
      reject: /chain: not a sequence of DER certificates \(expected a DER SEQUENCE at byte \d+\)/,
    },
    {
      // A refused update like the others since session 4 (it was a stream error, uncounted).
      name: '40 MB message (over the 32 MiB receive limit)',
      build: () => withMain({ bundle: Buffer.concat([mainDer, Buffer.alloc(40 << 20, 0x30)]) }),
      reject: /x509svid: the agent sent a message of \d+ bytes, more than the limit of 33554432 bytes/,
    },
  ];
}

/** Leaves built before the corpus (issue() is async, the corpus builders are not). */
const issuedSync: Record<string, Issued> = {};
async function prepareLeaves(): Promise<void> {
  const mk = async (key: string, o: CertOptions) => (issuedSync[key] = await issue({ issuer: root, ...o }));
  await Promise.all([
    mk('twoUris', { uris: [MAIN, `spiffe://${TD}/second`] }),
    mk('dnsOnly', { uris: [], dnsNames: ['workload.example.org'] }),
    mk('https', { uris: ['https://example.org/workload'] }),
    mk('tdOnly', { uris: [`spiffe://${TD}`] }),
    mk('upper', { uris: ['spiffe://Example.org/workload'] }),
    mk('dots', { uris: [`spiffe://${TD}/a/../workload`] }),
    mk('percent', { uris: [`spiffe://${TD}/a%20b`] }),
    mk('port', { uris: [`spiffe://${TD}:8443/workload`] }),
    mk('long', { uris: [`spiffe://${TD}/${'a'.repeat(2100)}`] }),
    mk('caLeaf', { uris: [MAIN], ca: true }),
    mk('certSign', { uris: [MAIN], keyUsage: KeyUsageFlags.digitalSignature | KeyUsageFlags.keyCertSign }),
    mk('crlSign', { uris: [MAIN], keyUsage: KeyUsageFlags.digitalSignature | KeyUsageFlags.cRLSign }),
    mk('noDigSig', { uris: [MAIN], keyUsage: KeyUsageFlags.keyEncipherment }),
    mk('noKu', { uris: [MAIN], keyUsage: null }),
    mk('expired', { uris: [MAIN], notBefore: new Date(Date.now() - 7_200_000), notAfter: new Date(Date.now() - 3_600_000) }),
  ]);
}

const stats = { tried: 0, rejected: 0, recovered: 0, anomalies: 0, ms: 0 };
after(() =>
  console.log(
    `# hostile: ${stats.tried} bad inputs tried, ${stats.rejected} rejected with the expected reason, ${stats.recovered} good updates applied after them, ${stats.anomalies} anomalies, ${stats.ms} ms`,
  ),
);

test('every malformed or invalid response is rejected with its reason; files untouched; the next good update lands', async (t) => {
  const started = Date.now();
  await prepareLeaves();
  const cases = await corpus();
  assert.ok(cases.length >= 30, `a corpus of ${cases.length}`);
  const svid = join(certs, 'svid.pem');
  for (const c of cases) {
    stats.tried++;
    const before = snapshot(certs);
    const m = helper.mark();
    agent.pushX509(c.build());
    let line: LogLine;
    try {
      line = await helper.waitFor(`the rejection of: ${c.name}`, m, (l) => isRejected(l) || isWritten(l), 10_000);
      const reason = String(line.error ?? line.reason);
      assert.ok(!isWritten(line), `${c.name}: accepted and written!`);
      assert.match(reason, c.reject, `${c.name}: unexpected reason`);
      assertUnchanged(before, snapshot(certs), c.name);
      assert.deepEqual(leftovers(certs), [], `${c.name}: temporary files left in cert_dir`);
    } catch (e) {
      stats.anomalies++;
      throw e;
    }
    stats.rejected++;
    // A good update follows and is applied.
    await agent.rotate();
    const want = leafSerial(agent.current()!.svids[0]!.x509_svid);
    await helper.waitFor(`the good update after: ${c.name}`, m, (l) => isWritten(l) && l.serial === want, 15_000);
    assert.equal(serialOf(svid), want);
    stats.recovered++;
  }
  stats.ms = Date.now() - started;
  t.diagnostic(`${cases.length} cases in ${stats.ms} ms`);
  assert.ok(helper.alive);
});

test('tolerated oddities are applied as documented: duplicate hints (first wins), garbage CRLs (ignored)', async () => {
  const fresh = await issue({ uris: [MAIN], issuer: root });
  const m = helper.mark();
  const msg = good();
  // Two SVIDs with hint "main": the first is used, the later duplicate is dropped unparsed (go-spiffe does the same).
  msg.svids = [{ spiffe_id: MAIN, x509_svid: fresh.der, x509_svid_key: fresh.keyDer, bundle: root.der, hint: 'main' }, { ...msg.svids[0], x509_svid: garbage(10), hint: 'main' }, msg.svids[1]!];
  msg.crl = [garbage(64)];
  agent.pushX509(msg);
  const line = await helper.waitFor('the tolerated update', m, (l) => isWritten(l) || isRejected(l));
  assert.ok(isWritten(line), `rejected: ${String(line.error)}`);
  assert.equal(line.serial, new X509Certificate(fresh.der).serialNumber);
  assert.equal(serialOf(join(certs, 'svid.pem')), line.serial);
});
