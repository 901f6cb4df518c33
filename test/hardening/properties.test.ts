/**
 * Property tests (fast-check) of the parsers that read untrusted text: SPIFFE IDs and trust
 * domains (from certificates and agents), endpoint addresses (from config and environment),
 * the Go helper's cmd_args string form, and the whole config file. Whatever the input, they
 * return a value or throw their typed error, never anything else; and what can round-trip does.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { splitCmdArgs } from '../../src/config/cmd-args.js';
import { parseConfig } from '../../src/config/load.js';
import { HelperError, type ErrorCode } from '../../src/errors.js';
import { SpiffeId, TrustDomain } from '../../src/spiffe/id.js';
import { parseEndpointAddress } from '../../src/workload/address.js';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 2000);
const tally = { inputs: 0, accepted: 0, typedErrors: 0, anomalies: 0 };
after(() => console.log(`# properties: ${tally.inputs} generated inputs (${RUNS} runs per property), ${tally.accepted} accepted, ${tally.typedErrors} typed errors, ${tally.anomalies} anomalies`));

/** Runs `f`; a throw must be a HelperError with `code`. Returns the value or undefined. */
function typed<T>(code: ErrorCode, f: () => T): T | undefined {
  tally.inputs++;
  try {
    const v = f();
    tally.accepted++;
    return v;
  } catch (e) {
    if (!(e instanceof HelperError) || e.code !== code || e.message === '') {
      tally.anomalies++;
      throw new Error(`expected HelperError(${code}), got ${e instanceof Error ? `${e.constructor.name}(${(e as HelperError).code ?? ''}): ${e.message}` : String(e)}`);
    }
    tally.typedErrors++;
    return undefined;
  }
}

const chars = (set: string, min = 1, max = 20) => fc.string({ unit: fc.constantFrom(...set), minLength: min, maxLength: max });
const lower = 'abcdefghijklmnopqrstuvwxyz0123456789._-';
const segChars = lower + 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const trustDomainName = chars(lower, 1, 40);
const segment = chars(segChars, 1, 20).filter((s) => s !== '.' && s !== '..');
const validId = fc
  .tuple(trustDomainName, fc.array(segment, { maxLength: 8 }))
  .map(([td, segs]) => ({ td, path: segs.map((s) => `/${s}`).join(''), text: `spiffe://${td}${segs.map((s) => `/${s}`).join('')}` }));
/** Text that looks like an ID often enough to reach the deep checks. */
const idLike = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.tuple(fc.constantFrom('spiffe://', 'SPIFFE://', 'spiffe:/', 'spiffe:', ''), fc.string({ unit: fc.constantFrom(...(segChars + '/:@%?#. \u00e9\u0000')), maxLength: 60 })).map(([a, b]) => a + b),
);

test('SpiffeId.parse: any text yields a SpiffeId that prints as the input, or HelperError("spiffe-id")', () => {
  fc.assert(
    fc.property(idLike, (input) => {
      const id = typed('spiffe-id', () => SpiffeId.parse(input));
      if (id) {
        assert.equal(id.toString(), input);
        assert.ok(input.startsWith('spiffe://'));
        assert.ok(Buffer.byteLength(input) <= 2048);
      }
    }),
    { numRuns: RUNS },
  );
});

test('SpiffeId.parse: every generated valid ID parses to itself, with its trust domain and path', () => {
  fc.assert(
    fc.property(validId, ({ td, path, text }) => {
      const id = typed('spiffe-id', () => SpiffeId.parse(text));
      assert.ok(id, `${text} must be valid`);
      assert.equal(id.toString(), text);
      assert.equal(id.trustDomain.name, td);
      assert.equal(id.path, path);
      assert.equal(id.hasPath, path !== '');
      assert.equal(TrustDomain.parse(id.trustDomain.id).name, td);
      assert.ok(SpiffeId.parse(id.toString()).equals(id));
    }),
    { numRuns: RUNS },
  );
});

test('SpiffeId.parse: one forbidden character anywhere in a valid ID makes it invalid', () => {
  const forbidden = fc.constantFrom(...'ABCZ:@%?#/ \u00e9\u0000'.split(''));
  fc.assert(
    fc.property(validId, forbidden, fc.nat(), ({ td, path }, bad, at) => {
      // Into the trust domain: upper case, port, user info, percent-encoding, query...
      if (bad !== '/') {
        const i = at % (td.length + 1);
        const text = `spiffe://${td.slice(0, i)}${bad}${td.slice(i)}${path}`;
        assert.equal(
          typed('spiffe-id', () => SpiffeId.parse(text)),
          undefined,
          text,
        );
      }
      // A trailing slash, an empty segment or a dot segment in the path.
      for (const tail of ['/', '//x', '/./x', '/../x', `/${bad === '/' ? '%' : bad}`]) {
        if (/^[A-Z]$/.test(tail.slice(1))) continue; // upper case is fine in a path
        const text = `spiffe://${td}${path}${tail}`;
        assert.equal(
          typed('spiffe-id', () => SpiffeId.parse(text)),
          undefined,
          text,
        );
      }
    }),
    { numRuns: RUNS },
  );
});

test('SpiffeId.parse: IDs over 2048 bytes are refused, IDs of exactly 2048 accepted', () => {
  fc.assert(
    fc.property(trustDomainName, fc.integer({ min: 0, max: 40 }), (td, extra) => {
      const prefix = `spiffe://${td}/`;
      const exact = prefix + 'a'.repeat(2048 - prefix.length);
      assert.ok(typed('spiffe-id', () => SpiffeId.parse(exact)));
      assert.equal(
        typed('spiffe-id', () => SpiffeId.parse(exact + 'b'.repeat(extra + 1))),
        undefined,
      );
      // Multi-byte characters count as bytes, not characters.
      assert.equal(
        typed('spiffe-id', () => SpiffeId.parse(`${prefix}${'\u00e9'.repeat(1100)}`)),
        undefined,
      );
    }),
    { numRuns: Math.min(RUNS, 300) },
  );
});

test('TrustDomain.parse: any text yields a trust domain of allowed characters, or HelperError("spiffe-id")', () => {
  fc.assert(
    fc.property(idLike, (input) => {
      const td = typed('spiffe-id', () => TrustDomain.parse(input));
      if (td) {
        assert.match(td.name, /^[a-z0-9._-]+$/);
        assert.equal(TrustDomain.parse(td.id).name, td.name);
      }
    }),
    { numRuns: RUNS },
  );
});

const pathChars = segChars + '/';
const absPath = chars(pathChars, 1, 60).map((p) => `/${p}`);
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const port = fc.integer({ min: 1, max: 65535 });
const addressLike = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc
    .tuple(fc.constantFrom('unix://', 'unix:', 'unix:///', 'tcp://', 'tcp:', 'http://', '/', ''), fc.string({ unit: fc.constantFrom(...(pathChars + ':@?#[]% 1')), maxLength: 40 }))
    .map(([a, b]) => a + b),
);

test('parseEndpointAddress: any text yields a unix or tcp address, or HelperError("address")', () => {
  fc.assert(
    fc.property(addressLike, (input) => {
      const a = typed('address', () => parseEndpointAddress(input));
      if (!a) return;
      if (a.kind === 'unix') {
        assert.ok(a.socketPath.startsWith('/'), `relative socket path from ${JSON.stringify(input)}`);
        assert.equal(a.target, `unix://${a.socketPath}`);
        // A literal ? or # in a URI starts a query or fragment; percent-encoded, it is part of the name.
        assert.ok(!/[?#]/.test(a.socketPath) || input.startsWith('/') || /%(3f|23)/i.test(input), `query or fragment kept from ${JSON.stringify(input)}`);
      } else {
        assert.ok(a.port >= 1 && a.port <= 65535);
        assert.ok(/^tcp:\/\//i.test(input), 'the scheme is case-insensitive (RFC 3986 3.1)');
      }
    }),
    { numRuns: RUNS },
  );
});

test('parseEndpointAddress: unix:///p, unix:/p and a bare /p name the socket p; tcp://IP:port round-trips', () => {
  fc.assert(
    fc.property(absPath, ipv4, port, (p, ip, n) => {
      // A socket is a file: a path ending in "/" names a directory, refused with that reason.
      if (p !== '/' && !p.startsWith('//') && !p.endsWith('/')) {
        for (const form of [`unix://${p}`, `unix:${p}`, p]) {
          const a = typed('address', () => parseEndpointAddress(form));
          assert.ok(a && a.kind === 'unix', form);
          assert.equal(a.socketPath, p, form);
        }
      }
      const t = typed('address', () => parseEndpointAddress(`tcp://${ip}:${n}`));
      assert.ok(t && t.kind === 'tcp');
      assert.equal(t.host, ip);
      assert.equal(t.port, n);
      assert.equal(t.target, `${ip}:${n}`);
      assert.equal(
        typed('address', () => parseEndpointAddress(`tcp://${ip}`)),
        undefined,
        'port required',
      );
      assert.equal(
        typed('address', () => parseEndpointAddress(`unix://${p}?x=1`)),
        undefined,
        'no query',
      );
    }),
    { numRuns: RUNS },
  );
});

/** The Go helper's quoting: every argument in double quotes, inner quotes doubled. */
const quote = (args: string[]) => args.map((a) => `"${a.replaceAll('"', '""')}"`).join(' ');

test('splitCmdArgs: any text yields string[] or a plain Error with a message, never anything else', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: fc.constantFrom(' ', '"', 'a', 'b', '\\', "'", '\t'), maxLength: 40 })), (text) => {
      tally.inputs++;
      let args: string[];
      try {
        args = splitCmdArgs(text);
      } catch (e) {
        if (!(e instanceof Error) || e.constructor !== Error || e.message === '') {
          tally.anomalies++;
          throw new Error(`splitCmdArgs(${JSON.stringify(text)}) threw ${String(e)}`);
        }
        tally.typedErrors++;
        return;
      }
      tally.accepted++;
      assert.ok(Array.isArray(args) && args.every((a) => typeof a === 'string'));
      // Go's encoding/csv with ' ' as the separator: without quotes or line breaks, every space
      // separates, so runs of spaces and leading or trailing ones give empty arguments.
      if (!/["\r\n]/.test(text)) assert.deepEqual(args, text === '' ? [] : text.split(' '));
    }),
    { numRuns: RUNS },
  );
});

test('splitCmdArgs: quoting any arguments then splitting returns them; plain words split on every space, as Go does', () => {
  fc.assert(
    // No \r in quoted arguments: encoding/csv reads a quoted \r\n as \n.
    fc.property(
      fc.array(
        fc.string({ maxLength: 20 }).filter((a) => !a.includes('\r')),
        { maxLength: 8 },
      ),
      fc.array(chars('abcXYZ-=./_0123456789', 1, 10), { maxLength: 8 }),
      (args, words) => {
        tally.inputs += 2;
        assert.deepEqual(splitCmdArgs(quote(args)), args);
        assert.deepEqual(splitCmdArgs(words.join(' ')), words);
        assert.deepEqual(
          splitCmdArgs(words.join('  ')),
          words.flatMap((w, i) => (i === 0 ? [w] : ['', w])),
          'every space separates: two give an empty argument',
        );
        tally.accepted += 2;
      },
    ),
    { numRuns: RUNS },
  );
});

/** TOML values of every type, valid for some keys and wrong for others. */
const tomlValue = fc.oneof(
  fc.string({ maxLength: 30 }).map((s) => JSON.stringify(s)),
  fc.constantFrom(
    '"/tmp/x"',
    '"svid.pem"',
    '"key.pem"',
    '"bundle.pem"',
    '"unix:///tmp/a.sock"',
    '"tcp://127.0.0.1:1"',
    '"SIGHUP"',
    '"0644"',
    '0o600',
    '"30s"',
    '"json"',
    '"files"',
    '"atomic_dir"',
    '"{trust_domain}.pem"',
    '"../x"',
    '""',
  ),
  fc.integer({ min: -70000, max: 70000 }).map(String),
  fc.boolean().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Number.isInteger(d) ? `${d}.5` : String(d))),
  fc
    .array(
      fc.string({ maxLength: 8 }).map((s) => JSON.stringify(s)),
      { maxLength: 3 },
    )
    .map((a) => `[${a.join(', ')}]`),
  fc.constant('1979-05-27T07:32:00Z'),
);
const keys = [
  'agent_address',
  'cert_dir',
  'svid_file_name',
  'svid_key_file_name',
  'svid_bundle_file_name',
  'add_intermediates_to_bundle',
  'include_federated_domains',
  'federated_bundle_file_name',
  'omit_expired',
  'hint',
  'file_layout',
  'cert_file_mode',
  'key_file_mode',
  'jwt_bundle_file_name',
  'jwt_svid_file_mode',
  'jwt_bundle_file_mode',
  'daemon_mode',
  'cmd',
  'cmd_args',
  'renew_signal',
  'cmd_restart_policy',
  'cmd_stop_grace_period',
  'pid_file_name',
  'log_level',
  'log_format',
  'unknown_key',
  'jwt_bundle_format',
];
const healthKeys = ['listener_enabled', 'bind_address', 'bind_port', 'liveness_path', 'readiness_path', 'bogus'];
const tomlDoc = fc
  .tuple(
    fc.uniqueArray(fc.tuple(fc.constantFrom(...keys), tomlValue), { selector: ([k]) => k, maxLength: 12 }),
    fc.option(fc.uniqueArray(fc.tuple(fc.constantFrom(...healthKeys), tomlValue), { selector: ([k]) => k, maxLength: 4 })),
    fc.option(fc.array(fc.tuple(fc.constantFrom('jwt_audience', 'jwt_svid_file_name', 'jwt_extra_audiences'), tomlValue), { maxLength: 3 })),
  )
  .map(([top, health, jwt]) => {
    let doc = top.map(([k, v]) => `${k} = ${v}`).join('\n') + '\n';
    if (jwt) doc += `jwt_svids = [{ ${[...new Map(jwt).entries()].map(([k, v]) => `${k} = ${v}`).join(', ')} }]\n`;
    if (health) doc += `[health_checks]\n${health.map(([k, v]) => `${k} = ${v}`).join('\n')}\n`;
    return doc;
  });

test('parseConfig: any TOML document of known and unknown keys yields a Config or HelperError("config")', () => {
  const env = {};
  fc.assert(
    fc.property(tomlDoc, (doc) => {
      const c = typed('config', () => parseConfig(doc, 'fuzz.conf', env));
      if (c) {
        assert.notEqual(c.certDir, '', 'a config without cert_dir is refused');
        assert.ok(c.x509 || c.jwtSvids.length > 0 || c.jwtBundleFileName);
      }
    }),
    { numRuns: RUNS },
  );
});

test('parseConfig: arbitrary bytes (not TOML at all) yield HelperError("config") naming the file', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 200 }),
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.string({ unit: fc.constantFrom('[', ']', '=', '"', "'", '\n', 'a', '.', '{', '}', ',', '#', ' '), maxLength: 80 }),
      ),
      (text) => {
        tally.inputs++;
        try {
          parseConfig(text, 'fuzz.conf', {});
          tally.accepted++;
        } catch (e) {
          if (!(e instanceof HelperError) || e.code !== 'config' || !e.message.startsWith('fuzz.conf')) {
            tally.anomalies++;
            throw new Error(`expected HelperError(config) naming fuzz.conf, got ${String(e)}`);
          }
          tally.typedErrors++;
        }
      },
    ),
    { numRuns: RUNS },
  );
});

test('parseConfig: a generated minimal valid config is accepted with what it says', () => {
  fc.assert(
    fc.property(absPath, chars('abcdefgh_.', 1, 10), fc.constantFrom('files', 'atomic_dir'), (dir, name, layout) => {
      fc.pre(!`${name}.`.startsWith('..')); // "..": the helper's own names in cert_dir (README "Names")
      const doc = `cert_dir = ${JSON.stringify(dir)}\nsvid_file_name = "${name}.crt"\nsvid_key_file_name = "${name}.key"\nsvid_bundle_file_name = "${name}.ca"\nfile_layout = "${layout}"\nagent_address = "unix:///run/a.sock"\n`;
      const c = typed('config', () => parseConfig(doc, 'gen.conf', {}));
      assert.ok(c, doc);
      assert.equal(c.certDir, dir);
      assert.equal(c.x509!.svidFileName, `${name}.crt`);
      assert.equal(c.x509!.layout, layout);
      assert.equal(c.agentAddress.kind === 'unix' && c.agentAddress.socketPath, '/run/a.sock');
    }),
    { numRuns: Math.min(RUNS, 500) },
  );
});
