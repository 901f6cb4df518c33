/**
 * What `jwt verify` accepts as its token and bundle, through the shipped CLI: a token as people
 * paste it (wrapped, with its newline), and a bundle with keys it must leave out. The reason is
 * on stderr, never the token.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliPath } from '../helpers/cli.js';
import { jwk, testKey, token } from '../helpers/jwt.js';
import { tempDir } from '../helpers/tmp.js';

const key = testKey('ES256', { kid: 'k' });
const secp256k1 = { ...generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ format: 'jwk' }), kid: 'k1' };
const dir = tempDir();
const bundle = join(dir, 'jwks.json');
writeFileSync(bundle, JSON.stringify({ keys: [secp256k1, jwk(key)] }));

const verify = (input: string) => spawnSync(process.execPath, [cliPath, 'jwt', 'verify', '--bundle', bundle, '--trust-domain', 'example.org', '--audience', 'api', '-'], { input, encoding: 'utf8' });

type Case = [name: string, input: (t: string) => string, refused: RegExp | undefined];
const cases: Case[] = [
  ['a token with a CRLF after it', (t) => `${t}\r\n`, undefined],
  ['a token wrapped at 64 characters', (t) => t.replace(/.{64}/g, '$&\n'), /jwtsvid: token has whitespace or a line break in it/],
  ['two tokens on two lines', (t) => `${t}\n${t}\n`, /jwtsvid: token has whitespace or a line break in it/],
];
for (const [name, input, refused] of cases) {
  test(`jwt verify ${refused ? 'refuses' : 'accepts'} ${name}; a key no JWT-SVID can use is ignored with one warning`, () => {
    const t = token('ES256', key);
    const r = verify(input(t));
    assert.equal((r.stderr.match(/jwt bundle key ignored: example\.org: key 1 "k1": an EC secp256k1 key, which no JWT-SVID algorithm uses/g) ?? []).length, 1, r.stderr);
    assert.ok(!r.stderr.includes(t.slice(t.lastIndexOf('.') + 1, t.lastIndexOf('.') + 30)), 'no part of the token signature on stderr');
    if (!refused) {
      assert.equal(r.status, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).spiffe_id, 'spiffe://example.org/workload');
      return;
    }
    assert.equal(r.status, 5, r.stderr);
    assert.match(r.stderr, refused);
  });
}
