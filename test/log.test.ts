import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { cliPath, startCli, writeConfig } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { waitFor } from './helpers/wait.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { createLogger, type LogFormat } from '../src/log.js';

const b64url = (s: string): string => Buffer.from(s).toString('base64url');
const jws = `${b64url('{"alg":"ES256","kid":"k1","typ":"JWT"}')}.${b64url('{"sub":"spiffe://example.org/w","aud":["api"],"exp":2000000000}')}.${'s'.repeat(86)}`;
const spacedHeader = `${b64url('{ "alg": "RS256" }')}.${b64url('{"sub":"x"}')}.c2ln`;
const jwe = `${b64url('{"alg":"RSA-OAEP","enc":"A256GCM"}')}.a2V5.aXY.Y2lwaGVy.dGFn`;
const ecKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const rsaKey = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
const pem = ecKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const keyBody = pem.split('\n')[1]!;
const der = ecKey.export({ type: 'pkcs8', format: 'der' });
const sec1Der = ecKey.export({ type: 'sec1', format: 'der' });
const rsaDer = rsaKey.export({ type: 'pkcs1', format: 'der' });
const encryptedDer = ecKey.export({ type: 'pkcs8', format: 'der', cipher: 'aes-256-cbc', passphrase: 'pw' });
const ecJwk = ecKey.export({ format: 'jwk' });
const rsaJwk = rsaKey.export({ format: 'jwk' });
const rsaPkcs8 = rsaKey.export({ type: 'pkcs8', format: 'der' });
const rsaBody = (rsaKey.export({ type: 'pkcs8', format: 'pem' }) as string).trim().split('\n').slice(1, -1);
/** As `openssl pkey -text` prints key bytes: pairs with colons, 15 a line. */
const opensslHex = (b: Buffer): string =>
  (
    [...b]
      .map((x) => x.toString(16).padStart(2, '0'))
      .join(':')
      .match(/.{1,45}/g) ?? []
  ).join('\n    ');
/** Bytes past the DER header: what must not leak, whatever the encoding. */
const hexPairs = (b: Buffer): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');

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
  { name: 'a token URL-encoded after a percent-escape (%3D, %22)', msg: 'x', field: `url /cb?q=token%3D${jws}%26x%22${jws}%22`, kept: ['url /cb?q=token%3D'], secrets: [jws.split('.')[1]!] },
  { name: 'a JWE compact serialization', msg: 'x', field: `value=${jwe}`, kept: ['value='], secrets: ['Y2lwaGVy'] },
  { name: 'a PEM private key inside an error message', msg: 'write failed', field: `cannot parse ${JSON.stringify(pem)} as a key`, kept: ['cannot parse', 'as a key'], secrets: [keyBody] },
  { name: 'a PEM private key with real newlines in the message', msg: `refused:\n${pem}done`, kept: ['refused:', 'done'], secrets: [keyBody] },
  { name: 'a PEM private key cut short', msg: 'x', field: pem.slice(0, 120), kept: [], secrets: [keyBody.slice(0, 30)] },
  {
    name: 'the tail of a PEM key whose BEGIN line went elsewhere',
    msg: 'x',
    field: `rest: ${pem.split('\n').slice(2).join('\n')}`,
    kept: ['rest:'],
    secrets: [pem.split('\n')[2]!],
  },
  { name: 'the tail of a PEM key, JSON-escaped', msg: 'x', field: `rest: ${JSON.stringify(pem.split('\n').slice(2).join('\n'))}`, kept: ['rest:'], secrets: [pem.split('\n')[2]!.slice(0, 30)] },
  { name: 'a PEM key with a lower-case label', msg: 'x', field: pem.replace(/PRIVATE KEY/g, 'private key'), kept: [], secrets: [keyBody] },
  { name: 'PKCS#8 DER in base64', msg: 'x', field: `bad key ${der.toString('base64')} in update`, kept: ['bad key', 'in update'], secrets: [der.toString('base64').slice(20, 60)] },
  { name: 'SEC1 DER in base64url', msg: 'x', field: `key=${sec1Der.toString('base64url')}`, kept: ['key='], secrets: [sec1Der.toString('base64url').slice(20, 60)] },
  { name: 'PKCS#1 RSA DER in hex', msg: 'x', field: `der ${rsaDer.toString('hex')}`, kept: ['der '], secrets: [rsaDer.toString('hex').slice(40, 120)] },
  { name: 'encrypted PKCS#8 DER in base64', msg: 'x', field: encryptedDer.toString('base64'), kept: [], secrets: [encryptedDer.toString('base64').slice(40, 90)] },
  {
    name: 'a key Buffer as Node prints it',
    msg: 'x',
    field: `got <Buffer ${hexPairs(der.subarray(0, 50))} ... 88 more bytes>`,
    kept: ['got <Buffer', 'more bytes>'],
    secrets: [hexPairs(der.subarray(36, 50))],
  },
  { name: 'a key Buffer as JSON', msg: 'x', field: JSON.stringify({ key: der }), kept: ['Buffer'], secrets: [[...der.subarray(36, 50)].join(',')] },
  // Wrapped encodings: every line of the key goes, the text after it stays.
  {
    name: 'a PEM body without its armour (lines joined by newlines)',
    msg: 'x',
    field: `bad key ${rsaBody.join('\n')} in update`,
    kept: ['bad key', 'in update'],
    secrets: rsaBody.slice(1).map((l) => l.slice(8, 40)),
  },
  {
    name: 'a PEM body without its armour, JSON-escaped',
    msg: 'x',
    field: `bad key ${JSON.stringify(rsaBody.join('\n'))} in update`,
    kept: ['bad key', 'in update'],
    secrets: rsaBody.slice(1).map((l) => l.slice(8, 40)),
  },
  {
    name: 'a PEM body without its armour, lines joined by spaces',
    msg: 'x',
    field: `bad key ${rsaBody.join(' ')} rest of the text`,
    kept: ['bad key', 'rest of the text'],
    secrets: rsaBody.slice(1).map((l) => l.slice(8, 40)),
  },
  {
    name: 'DER in base64 wrapped at 76 (MIME)',
    msg: 'x',
    field: `${rsaPkcs8.toString('base64').replace(/(.{76})/g, '$1\r\n')} done`,
    kept: [' done'],
    secrets: [rsaPkcs8.toString('base64').slice(76 * 8 + 10, 76 * 8 + 50)],
  },
  {
    name: 'DER in hex with colons over indented lines (openssl)',
    msg: 'x',
    field: `priv:\n    ${opensslHex(rsaPkcs8)}\npub: x`,
    kept: ['priv:', 'pub: x'],
    secrets: [opensslHex(rsaPkcs8.subarray(600, 616))],
  },
  { name: 'a PEM key in base64', msg: 'x', field: `value ${Buffer.from(pem).toString('base64')} end`, kept: ['value', ' end'], secrets: [Buffer.from(pem).toString('base64').slice(100, 140)] },
  { name: 'a private EC JWK (its "d") quoted in an error', msg: 'x', field: `bad jwks: ${JSON.stringify(ecJwk)} end`, kept: ['bad jwks:', 'kty', ecJwk.x!, ' end'], secrets: [ecJwk.d!] },
  {
    name: 'a private RSA JWK, JSON-escaped inside a string',
    msg: 'x',
    field: JSON.stringify(`key ${JSON.stringify(rsaJwk)}`),
    kept: ['key', 'RSA', rsaJwk.n!.slice(0, 40)],
    secrets: [rsaJwk.d!.slice(0, 40), rsaJwk.p!.slice(0, 40), rsaJwk.qi!.slice(0, 40)],
  },
  {
    name: "a token in base64 (a Secret's data)",
    msg: 'x',
    field: `data ${Buffer.from(jws).toString('base64')} end`,
    kept: ['data', ' end'],
    secrets: [Buffer.from(jws).toString('base64').slice(60, 100)],
  },
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

test('log redaction: a PEM key split over two fields of one line leaks neither half', () => {
  const pemLines = pem.trim().split('\n');
  for (const format of ['text', 'json'] as const) {
    const out = splitOverFields(format, pemLines);
    for (const l of pemLines.slice(1, -1)) assert.ok(!out.includes(l.slice(0, 40)), `${format}: ${out}`);
  }
});

function splitOverFields(format: LogFormat, pemLines: string[]): string {
  const half = Math.ceil(pemLines.length / 2);
  return lines(format, (l) => l.warn('x', { first: pemLines.slice(0, half).join('\n'), second: pemLines.slice(half).join('\n') }));
}

test('log redaction leaves certificates and public keys (DER in base64 or hex) alone', () => {
  const spki = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
  const text = `spki ${spki.toString('base64')} hex ${spki.toString('hex')} fingerprint ${'ab'.repeat(32)}`;
  const out = lines('text', (l) => l.info('x', { a: text }));
  assert.ok(out.includes(text), out);
});

for (const source of ['keystore_password_env', 'keystore_password_file'] as const) {
  test(`log redaction: a keystore password read from ${source} never appears in a log line, even quoted by an error`, async () => {
    const password = `Tr0ub4dor&3-${source}`;
    const dir = tempDir();
    const conf = join(dir, 'helper.conf');
    const where = source === 'keystore_password_env' ? 'keystore_password_env = "KS_PASS"' : `keystore_password_file = "${join(dir, 'pw')}"`;
    writeFileSync(join(dir, 'pw'), `${password}\n`);
    writeFileSync(conf, `cert_dir = "${dir}"\nkeystore_file_name = "ks.p12"\n${where}\n`);
    await loadConfig(conf, { KS_PASS: password });
    for (const format of ['text', 'json'] as const) {
      const out = lines(format, (l) => l.error(`pkcs12: cannot encode with ${password}`, { error: `mac failed for password "${password}"` }));
      assert.ok(!out.includes(password), out);
      assert.match(out, /mac failed for password \\?"\[redacted\]\\?"/);
    }
  });
}

test('log text format: a message quoting newlines, carriage returns or other control characters stays one line', () => {
  const out: string[] = [];
  const log = createLogger({ format: 'text', write: (l) => out.push(l) });
  log.error('agent said "bad\nINFO  forged line\r\u001b[2Kx"', { error: 'a\nb' });
  assert.equal(out.length, 1);
  assert.doesNotMatch(out[0]!, /\p{Cc}/u);
  assert.ok(out[0]!.includes('bad\\nINFO  forged line\\r\\u001b[2Kx'), out[0]);
});

test('a crash (an error nothing caught) is one redacted log line and exit 1, not Node report of the error with its properties', async () => {
  const dir = tempDir();
  const trigger = join(dir, 'crash-now');
  // Thrown from outside the CLI's code paths once the test says so; the secrets come from the environment, not the module's text.
  const preload = `import { existsSync } from 'node:fs'; const t = setInterval(() => { if (existsSync(${JSON.stringify(trigger)})) { clearInterval(t); const e = process.env; throw Object.assign(new Error('boom ' + e.CRASH_TOKEN), { key: e.CRASH_KEY, token: e.CRASH_TOKEN }); } }, 10);`;
  const run = startCli(['--import', `data:text/javascript,${encodeURIComponent(preload)}`, cliPath, '--config', writeConfig(dir, `unix://${join(dir, 'none.sock')}`)], {
    command: process.execPath,
    env: { CRASH_TOKEN: jws, CRASH_KEY: pem },
  });
  await waitFor('the helper to run', () => run.stderr().includes('connecting to the workload api'));
  writeFileSync(trigger, '');
  const r = await run.result;
  assert.equal(r.code, 1, r.stderr);
  const crash = r.stderr.split('\n').filter((l) => l.includes('boom'));
  assert.equal(crash.length, 1, r.stderr);
  assert.match(crash[0]!, /ERROR crashed: boom \[redacted\]/);
  assert.ok(!r.stderr.includes(jws.split('.')[2]!) && !r.stderr.includes(keyBody), r.stderr);
});

/**
 * Log injection: a value quoted from a peer or a file name (a trust domain, a hint, an agent's
 * error) carrying characters a terminal or a line splitter acts on. Each line stays one line,
 * none of them reaches the output raw, and the value reads back exactly (text values that need
 * quoting are JSON strings).
 */
const injections: { name: string; value: string }[] = [
  { name: 'ANSI escapes (colour, clear line)', value: 'td\u001b[31mred\u001b[2K' },
  { name: 'a bell and a backspace', value: 'x\u0007\u0008y' },
  { name: 'C1 controls (NEL, 8-bit CSI)', value: 'a\u0085INFO  forged\u009b2J' },
  { name: 'DEL', value: 'a\u007fb' },
  { name: 'Unicode line and paragraph separators', value: 'a\u2028INFO  forged\u2029b' },
  { name: 'bidi overrides (the text shown is not the text logged)', value: 'svid\u202egp.mep' },
  { name: 'a key=value lookalike with a newline', value: 'x\nlevel=info msg=forged' },
];
const forbidden = /[\p{Cc}\p{Zl}\p{Zp}\u202a-\u202e\u2066-\u2069]/u;

for (const c of injections) {
  for (const format of ['text', 'json'] as const) {
    test(`log injection (${format}): ${c.name} in a field and in the message stays one line, escaped, and reads back`, () => {
      const out: string[] = [];
      createLogger({ format, write: (l) => out.push(l) }).warn(`agent said ${c.value}`, { name: c.value, n: 1 });
      assert.equal(out.length, 1);
      assert.doesNotMatch(out[0]!, forbidden, JSON.stringify(out[0]));
      if (format === 'json') {
        const parsed = JSON.parse(out[0]!) as { msg: string; name: string };
        assert.equal(parsed.msg, `agent said ${c.value}`);
        assert.equal(parsed.name, c.value);
      } else {
        const quoted = /name=("(?:[^"\\]|\\.)*") n=1$/.exec(out[0]!);
        assert.ok(quoted, out[0]);
        assert.equal(JSON.parse(quoted[1]!), c.value);
      }
    });
  }
}

/**
 * Text a peer controls (an agent's error, a SPIFFE ID path, a file name) shaped so that a
 * pattern scanning from every position takes quadratic time: a megabyte of it must not stall
 * the helper for minutes. Run in a child killed after a generous bound (linear work takes
 * milliseconds; before the fix, 100 kB of the first case took 14 s, a megabyte ~20 min), since
 * a regular expression cannot be interrupted; the figure is printed.
 */
const MB = 1 << 20;
const slowInputs: { name: string; text: string }[] = [
  { name: 'a run of "ey-" (a token start after every hyphen, no dots)', text: `'ey-'.repeat(${MB / 3})` },
  { name: 'a run of "ey-" ending in two dots', text: `'ey-'.repeat(${MB / 3}) + '..'` },
  { name: 'a run of "%3Dey-" (starts after percent-escapes)', text: `'%3Dey-'.repeat(${MB / 6})` },
  { name: 'word runs separated by single dots', text: `'eyJhbGciOiJFUzI1NiJ9.'.repeat(${Math.floor(MB / 21)})` },
];
for (const c of slowInputs) {
  test(`log redaction of 1 MB stays linear: ${c.name}`, () => {
    const code = `import { redact } from ${JSON.stringify(new URL('../src/log.ts', import.meta.url).href)}; const t = performance.now(); redact(${c.text}); console.log((performance.now() - t).toFixed(0));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.signal, null, 'redaction still running after 60 s');
    assert.equal(r.status, 0, r.stderr);
    console.log(`# ${c.name}: ${r.stdout.trim()} ms`);
  });
}

test('log redaction: a token right after a hyphen or inside a dotted name is still redacted, the text around it kept', () => {
  const out = lines('text', (l) => l.warn('x', { a: `api-${jws} ok`, b: `file.${jws}`, c: `see ${'ab-'.repeat(10)}${jws}` }));
  assert.ok(!out.includes(jws.split('.')[1]!), out);
  assert.match(out, /a="api-\[redacted\] ok"/);
  assert.match(out, /b=file\.\[redacted\]/);
  assert.ok(out.includes(`see ${'ab-'.repeat(10)}[redacted]`), out);
});
