/**
 * Output names probed with spellings the first round of tests did not use: one file reached by
 * two names (a path through a symlinked directory, an absolute name with cert_dir unset, `./`),
 * per-trust-domain patterns meeting names spelled as paths, paths through the helper's reserved
 * `..` entries, and directories planted where a file goes.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { isHelperError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { writeFilesAtomic } from '../../src/output/atomic-write.js';
import { X509Writer } from '../../src/output/x509-writer.js';
import { parseX509Bundle } from '../../src/spiffe/bundle.js';
import { TrustDomain } from '../../src/spiffe/id.js';
import type { X509Context } from '../../src/spiffe/x509context.js';
import { parseX509Svid } from '../../src/spiffe/x509svid.js';
import { issue, svidChain } from '../helpers/certs.js';
import { tempDir } from '../helpers/tmp.js';
import { x509Output } from './fixtures/x509-output.js';

const AGENT = 'agent_address = "unix:///run/agent.sock"\n';
const x509 = (svid = 'svid.pem', key = 'svid_key.pem', bundle = 'bundle.pem') => `svid_file_name = "${svid}"\nsvid_key_file_name = "${key}"\nsvid_bundle_file_name = "${bundle}"\n`;
const parse = (text: string) => parseConfig(AGENT + text, 'helper.conf', {});

describe('config: output names', () => {
  const root = tempDir();
  mkdirSync(join(root, 'real'));
  symlinkSync('real', join(root, 'link'));
  symlinkSync('.', join(root, 'real', 'self'));
  const cases: { name: string; toml: string; refused: RegExp }[] = [
    {
      name: 'cert_dir unset: "svid.pem" and the same file by its absolute path',
      toml: x509('svid.pem', 'svid_key.pem', join(process.cwd(), 'svid.pem')),
      refused: /two outputs would write the same file ".*\/svid\.pem" \(the same as "svid\.pem"\)/,
    },
    {
      name: 'a name through a directory symlink that points back at cert_dir',
      toml: `cert_dir = "${root}/real"\n${x509('svid.pem', 'svid_key.pem', 'self/svid.pem')}`,
      refused: /two outputs would write the same file "self\/svid\.pem" \(the same as "svid\.pem"\)/,
    },
    {
      name: 'cert_dir given through a symlink, a name reaching the same file by the real directory',
      toml: `cert_dir = "${root}/link"\n${x509('svid.pem', 'svid_key.pem', '../real/svid_key.pem')}`,
      refused: /two outputs would write the same file "\.\.\/real\/svid_key\.pem" \(the same as "svid_key\.pem"\)/,
    },
    {
      name: 'federated pattern matching another output spelled "./<name>"',
      toml: `cert_dir = "${root}/real"\n${x509('svid.pem', 'svid_key.pem', './fed_x.org.pem')}federated_bundle_file_name = "fed_{trust_domain}.pem"\n`,
      refused: /federated_bundle_file_name: pattern "fed_\{trust_domain\}\.pem" also matches "\.\/fed_x\.org\.pem"/,
    },
    {
      name: 'federated pattern matching an absolute name in the working directory (cert_dir unset)',
      toml: `${x509()}jwt_bundle_file_name = "${process.cwd()}/fed_y.org.pem"\nfederated_bundle_file_name = "fed_{trust_domain}.pem"\n`,
      refused: /federated_bundle_file_name: pattern "fed_\{trust_domain\}\.pem" also matches ".*\/fed_y\.org\.pem"/,
    },
    {
      name: 'jwks pattern matching a JWT-SVID file reached through a symlinked directory',
      toml: `cert_dir = "${root}/real"\njwt_bundle_file_name = "jwt_{trust_domain}.json"\njwt_bundle_format = "jwks"\n[[jwt_svids]]\njwt_audience = "api"\njwt_svid_file_name = "self/jwt_api.json"\n`,
      refused: /jwt_bundle_file_name: pattern "jwt_\{trust_domain\}\.json" also matches "self\/jwt_api\.json"/,
    },
    {
      name: 'a path into the atomic_dir link "..data/"',
      toml: `cert_dir = "${root}/real"\n${x509('svid.pem', 'svid_key.pem', '..data/bundle.pem')}`,
      refused: /svid_bundle_file_name: .*"\.\.data", .*reserved/,
    },
    {
      name: 'a path into the lock directory',
      toml: `cert_dir = "${root}/real"\n${x509('..spiffe-helper.lock/svid.pem')}`,
      refused: /svid_file_name: .*"\.\.spiffe-helper\.lock", .*reserved/,
    },
    {
      name: 'a path into a version directory, after a ".." that cleans away',
      toml: `cert_dir = "${root}/real"\njwt_bundle_file_name = "x/../..2026_01_01_00_00_00.abcdef/b.json"\n`,
      refused: /jwt_bundle_file_name: .*"\.\.2026_01_01_00_00_00\.abcdef", .*reserved/,
    },
    {
      name: 'an absolute path through a Kubernetes-style "..data" (cert_dir unset)',
      toml: `[[jwt_svids]]\njwt_audience = "api"\njwt_svid_file_name = "/etc/secret/..data/api.jwt"\n`,
      refused: /jwt_svids\[0\]\.jwt_svid_file_name: .*"\.\.data", .*reserved/,
    },
    {
      name: 'a directory in the path longer than 255 bytes',
      toml: `cert_dir = "${root}/real"\n${x509('svid.pem', 'svid_key.pem', `${'d'.repeat(256)}/bundle.pem`)}`,
      refused: /svid_bundle_file_name: .*has a component longer than 255 bytes/,
    },
    {
      name: 'federated pattern with {trust_domain} twice',
      toml: `cert_dir = "${root}/real"\n${x509()}federated_bundle_file_name = "fed_{trust_domain}_{trust_domain}.pem"\n`,
      refused: /federated_bundle_file_name: must contain \{trust_domain\} once/,
    },
  ];
  for (const c of cases) {
    test(`refused, naming the key: ${c.name}`, () => {
      assert.throws(
        () => parse(c.toml),
        (e) => isHelperError(e, 'config') && c.refused.test(e.message),
      );
    });
  }

  test('still accepted: "./name" and "sub/../name" for different files, a ".." leading out of cert_dir', () => {
    const c = parse(`cert_dir = "${root}/real"\n${x509('./svid.pem', 'sub/../svid_key.pem', '../bundle.pem')}`);
    assert.equal(c.x509?.bundleFileName, '../bundle.pem');
  });
});

const ID = 'spiffe://example.org/workload';
async function context(federated: string[] = []): Promise<X509Context> {
  const c = await svidChain(ID);
  const svids = [parseX509Svid({ spiffeId: ID, chainDer: c.chainDer, keyDer: c.leaf.keyDer, hint: '' })];
  const bundles = new Map([['example.org', parseX509Bundle(TrustDomain.parse('example.org'), c.root.der)]]);
  const federatedBundles = new Map(await Promise.all(federated.map(async (td) => [td, parseX509Bundle(TrustDomain.parse(td), (await issue({ ca: true, name: td })).der)] as const)));
  return { svids, bundles, federatedBundles, emptyFederatedDomains: [], ignoredFederated: [] };
}
const out = (layout: 'files' | 'atomic_dir', federatedBundleFileName?: string) => x509Output({ layout, federatedBundleFileName });

describe('writes: one file, two names; a directory where a file goes', () => {
  test('two files of one set that are one file through a symlinked directory: refused, nothing written', async () => {
    const dir = tempDir();
    symlinkSync('.', join(dir, 'self'));
    await assert.rejects(
      writeFilesAtomic([
        { path: join(dir, 'a.pem'), data: 'first', mode: 0o644 },
        { path: join(dir, 'self', 'a.pem'), data: 'second', mode: 0o644 },
      ]),
      (e) => isHelperError(e, 'output') && /a\.pem .*one file/.test(e.message),
    );
    assert.deepEqual(readdirSync(dir), ['self']);
  });

  for (const layout of ['files', 'atomic_dir'] as const) {
    for (const [what, planted, federated] of [
      ['the bundle name', 'bundle.pem', []],
      ['a per-trust-domain name', 'fed_x.org.pem', ['x.org']],
    ] as const) {
      test(`${layout}: a directory at ${what} fails the write before any file is replaced ("unchanged", not a mixed set)`, async () => {
        const dir = tempDir();
        const writer = new X509Writer(out(layout, 'fed_{trust_domain}.pem'), dir, silentLogger);
        await writer.apply(await context());
        const svid = readFileSync(join(dir, 'svid.pem'), 'utf8');
        rmSync(join(dir, planted), { force: true });
        mkdirSync(join(dir, planted));
        writeFileSync(join(dir, planted, 'theirs'), 'a user file');
        await assert.rejects(
          writer.apply(await context([...federated])),
          (e) => isHelperError(e, 'output') && new RegExp(`cannot write ${planted.replace(/\./g, '\\.')} .*a directory is in the way.*the previous files are unchanged`).test(e.message),
        );
        assert.equal(readFileSync(join(dir, 'svid.pem'), 'utf8'), svid, 'svid.pem was not replaced');
        assert.deepEqual(readdirSync(join(dir, planted)), ['theirs']);
        assert.deepEqual(
          readdirSync(dir).filter((n) => n.endsWith('.tmp')),
          [],
          'no temporary left',
        );
      });
    }
  }
});
