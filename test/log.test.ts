import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { createLogger, type LogFormat } from '../src/log.js';

const b64url = (s: string): string => Buffer.from(s).toString('base64url');
const jws = `${b64url('{"alg":"ES256","kid":"k1","typ":"JWT"}')}.${b64url('{"sub":"spiffe://example.org/w","aud":["api"],"exp":2000000000}')}.${'s'.repeat(86)}`;
const spacedHeader = `${b64url('{ "alg": "RS256" }')}.${b64url('{"sub":"x"}')}.c2ln`;
const jwe = `${b64url('{"alg":"RSA-OAEP","enc":"A256GCM"}')}.a2V5.aXY.Y2lwaGVy.dGFn`;
const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const keyBody = pem.split('\n')[1]!;

function lines(format: LogFormat, log: (l: ReturnType<typeof createLogger>) => void): string {
  const out: string[] = [];
  log(createLogger({ format, write: (l) => out.push(l) }));
  return out.join('\n');
}

const cases: { name: string; msg: string; field?: string; kept: string[]; secrets: string[] }[] = [
  { name: 'a bare token as a field', msg: 'token', field: jws, kept: [], secrets: [jws.split('.')[2]!] },
  { name: 'a token quoted inside an error message', msg: 'fetch failed', field: `jwtsvid: token "${jws}" has expired`, kept: ['jwtsvid: token', 'has expired'], secrets: [jws.split('.')[1]!] },
  {
    name: 'a token after Bearer in the message itself',
    msg: `agent said: Authorization: Bearer ${jws}; retrying`,
    kept: ['agent said: Authorization: Bearer ', '; retrying'],
    secrets: [jws.split('.')[1]!],
  },
  { name: 'a token whose header has spaces (base64url "ey" then not "J")', msg: 'x', field: `bad (${spacedHeader})`, kept: ['bad ('], secrets: [b64url('{"sub":"x"}')] },
  { name: 'a JWE compact serialization', msg: 'x', field: `value=${jwe}`, kept: ['value='], secrets: ['Y2lwaGVy'] },
  { name: 'a PEM private key inside an error message', msg: 'write failed', field: `cannot parse ${JSON.stringify(pem)} as a key`, kept: ['cannot parse', 'as a key'], secrets: [keyBody] },
  { name: 'a PEM private key with real newlines in the message', msg: `refused:\n${pem}done`, kept: ['refused:', 'done'], secrets: [keyBody] },
  { name: 'a PEM private key cut short', msg: 'x', field: pem.slice(0, 120), kept: [], secrets: [keyBody.slice(0, 30)] },
];

for (const c of cases) {
  for (const format of ['text', 'json'] as const) {
    test(`log redaction (${format}): ${c.name}`, () => {
      const out = lines(format, (l) => l.error(c.msg, c.field === undefined ? {} : { error: c.field }));
      assert.match(out, /\[redacted\]/);
      for (const s of c.secrets) assert.ok(!out.includes(s), `secret part ${s.slice(0, 20)}... leaked: ${out}`);
      for (const k of c.kept) assert.ok(out.includes(k), `context ${JSON.stringify(k)} lost: ${out}`);
    });
  }
}

test('log redaction leaves SPIFFE IDs, host names, versions and file names alone', () => {
  const text = 'spiffe://prod.example.org/ns/default/sa/eyes.only api.example.com:8443 v1.13.3 svid_key.pem eyJhbGciOi';
  const out = lines('text', (l) => l.info('x', { a: text }));
  assert.ok(out.includes(text), out);
});
