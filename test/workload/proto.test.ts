/**
 * The hand-written Workload API codec (src/workload/proto.ts, wire.ts): the schemas agree with
 * proto/workload.proto; decoding agrees with protobufjs + @grpc/proto-loader's object form (what
 * the helper used before), for generated messages too; unknown fields are skipped; malformed
 * input is refused with an error naming the message, the field and the byte.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test, describe } from 'node:test';
import fc from 'fast-check';
import type protobufTypes from 'protobufjs';
import * as proto from '../../src/workload/proto.js';
import { LIMITS } from '../../src/spiffe/limits.js';
import { decode, encode, Messages, methodPath, Rpcs, type Schema, TooManyFields } from '../../src/workload/proto.js';
import { ProtoError } from '../../src/workload/wire.js';
// @ts-expect-error: a plain .mjs build script, no types
import { protoMismatches } from '../../scripts/build-proto.mjs';

const protobuf = createRequire(import.meta.url)('protobufjs') as typeof protobufTypes;
const root = new protobuf.Root();
root.loadSync(new URL('../../proto/workload.proto', import.meta.url).pathname, { keepCase: true });
root.resolveAll();
/** The oracle: what the helper decoded with before (proto-loader's conversion options). */
const oracle = (name: string) => {
  const type = root.lookupType(name);
  return {
    encode: (o: object) => Buffer.from(type.encode(type.fromObject(o)).finish()),
    decode: (b: Buffer) => type.toObject(type.decode(b), { longs: String, enums: String, defaults: true, oneofs: true }),
  };
};
const bytesOf = (...b: number[]) => Buffer.from(b);

test('the service has the SPIRE method paths and stream kinds', () => {
  const kinds = Object.fromEntries(Object.entries(Rpcs).map(([rpc, r]) => [rpc, [methodPath(rpc as keyof typeof Rpcs), r.stream]]));
  assert.deepEqual(kinds, {
    FetchX509SVID: ['/SpiffeWorkloadAPI/FetchX509SVID', true],
    FetchX509Bundles: ['/SpiffeWorkloadAPI/FetchX509Bundles', true],
    FetchJWTSVID: ['/SpiffeWorkloadAPI/FetchJWTSVID', false],
    FetchJWTBundles: ['/SpiffeWorkloadAPI/FetchJWTBundles', true],
    ValidateJWTSVID: ['/SpiffeWorkloadAPI/ValidateJWTSVID', false],
  });
});

test('the schemas say what proto/workload.proto says (the build checks this too)', async () => {
  assert.deepEqual(await protoMismatches(proto), []);
});

test('a schema that drifts from the .proto is reported', async () => {
  const field = Messages.X509SVIDResponse.fields.find((f) => f.name === 'crl')!;
  field.no = 9;
  try {
    const problems: string[] = await protoMismatches(proto);
    assert.ok(
      problems.some((p) => /X509SVIDResponse\.crl \(2\) is missing from the schema/.test(p)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => /has field 9 \(crl\)/.test(p)),
      problems.join('\n'),
    );
  } finally {
    field.no = 2;
  }
});

test('messages decode as proto-loader decoded them: snake_case, defaults filled, bytes as Buffer', () => {
  const sent = {
    svids: [{ spiffe_id: 'spiffe://example.org/w', x509_svid: Buffer.from([1, 2]), x509_svid_key: Buffer.from([3]), bundle: Buffer.from([4]) }],
    federated_bundles: { 'spiffe://partner.org': Buffer.from([5]) },
  };
  const got = decode(Messages.X509SVIDResponse, oracle('X509SVIDResponse').encode(sent));
  assert.deepEqual(got, {
    svids: [{ spiffe_id: 'spiffe://example.org/w', x509_svid: Buffer.from([1, 2]), x509_svid_key: Buffer.from([3]), bundle: Buffer.from([4]), hint: '' }],
    crl: [],
    federated_bundles: { 'spiffe://partner.org': Buffer.from([5]) },
  });
  assert.ok(Buffer.isBuffer(got.svids[0]!.x509_svid));
});

test("google.protobuf.Struct claims keep proto-loader's object form", () => {
  const claims = { fields: { sub: { stringValue: 'x' }, n: { nullValue: 'NULL_VALUE' }, l: { listValue: { values: [{ numberValue: 1 }, { boolValue: false }] } } } };
  const bytes = encode(Messages.ValidateJWTSVIDResponse, { spiffe_id: 's', claims } as never);
  const got = decode(Messages.ValidateJWTSVIDResponse, bytes);
  assert.deepEqual(got, oracle('ValidateJWTSVIDResponse').decode(bytes));
  assert.equal(got.claims!.fields.n!.kind, 'nullValue');
  assert.deepEqual(got.claims!.fields.l!.listValue, {
    values: [
      { numberValue: 1, kind: 'numberValue' },
      { boolValue: false, kind: 'boolValue' },
    ],
  });
  assert.equal(decode(Messages.ValidateJWTSVIDResponse, Buffer.alloc(0)).claims, null);
});

describe('generated messages: the same objects as protobufjs, both ways', () => {
  const bytes = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));
  const text = fc.string({ unit: 'grapheme', maxLength: 12 });
  const map = (v: fc.Arbitrary<unknown>) =>
    fc.dictionary(
      text.filter((k) => k !== '__proto__'),
      v,
      { maxKeys: 3 },
    );
  const value: fc.Arbitrary<object> = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.constant({ nullValue: 'NULL_VALUE' }),
      fc.double({ noNaN: true }).map((numberValue) => ({ numberValue })),
      text.map((stringValue) => ({ stringValue })),
      fc.boolean().map((boolValue) => ({ boolValue })),
      tie('struct').map((structValue) => ({ structValue })),
      fc.array(tie('value'), { maxLength: 3 }).map((values) => ({ listValue: { values } })),
    ),
    struct: map(tie('value')).map((fields) => ({ fields })),
  })).value;
  const messages: [string, Schema<object>, fc.Arbitrary<object>][] = [
    [
      'X509SVIDResponse',
      Messages.X509SVIDResponse,
      fc.record({
        svids: fc.array(fc.record({ spiffe_id: text, x509_svid: bytes, x509_svid_key: bytes, bundle: bytes, hint: text }), { maxLength: 3 }),
        crl: fc.array(bytes, { maxLength: 2 }),
        federated_bundles: map(bytes),
      }),
    ],
    ['X509BundlesResponse', Messages.X509BundlesResponse, fc.record({ crl: fc.array(bytes, { maxLength: 2 }), bundles: map(bytes) })],
    ['JWTSVIDRequest', Messages.JWTSVIDRequest, fc.record({ audience: fc.array(text, { maxLength: 3 }), spiffe_id: text })],
    ['JWTSVIDResponse', Messages.JWTSVIDResponse, fc.record({ svids: fc.array(fc.record({ spiffe_id: text, svid: text, hint: text }), { maxLength: 3 }) })],
    ['JWTBundlesResponse', Messages.JWTBundlesResponse, fc.record({ bundles: map(bytes) })],
    ['ValidateJWTSVIDRequest', Messages.ValidateJWTSVIDRequest, fc.record({ audience: text, svid: text })],
    ['ValidateJWTSVIDResponse', Messages.ValidateJWTSVIDResponse, fc.record({ spiffe_id: text, claims: value.map((v) => ({ fields: { c: v } })) })],
  ];
  for (const [name, schema, arb] of messages) {
    test(name, () => {
      const o = oracle(name);
      fc.assert(
        fc.property(arb, (msg) => {
          const theirs = o.encode(msg);
          assert.deepEqual(decode(schema, theirs), o.decode(theirs));
          const ours = encode(schema, msg);
          assert.deepEqual(o.decode(ours), o.decode(theirs));
        }),
        { numRuns: 200 },
      );
    });
  }
});

test('random bytes: decoded, or refused with a ProtoError; never another exception', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (a) => {
      for (const schema of [Messages.X509SVIDResponse, Messages.ValidateJWTSVIDResponse]) {
        try {
          decode<object>(schema, Buffer.from(a));
        } catch (e) {
          assert.ok(e instanceof ProtoError, String(e));
        }
      }
    }),
    { numRuns: 2000 },
  );
});

describe('unknown fields are skipped', () => {
  // A JWTSVID { spiffe_id: "a" } with an unknown field 9 of each wire type before it.
  const known = bytesOf(0x0a, 0x01, 0x61);
  for (const [name, unknown] of [
    ['varint', bytesOf(0x48, 0xff, 0xff, 0x01)],
    ['fixed64', bytesOf(0x49, 1, 2, 3, 4, 5, 6, 7, 8)],
    ['length-delimited', bytesOf(0x4a, 0x02, 0x0a, 0x0b)],
    ['fixed32', bytesOf(0x4d, 1, 2, 3, 4)],
    ['group, nested', bytesOf(0x4b, 0x53, 0x08, 0x01, 0x54, 0x4c)],
    ['large field number', bytesOf(0xf8, 0xff, 0xff, 0xff, 0x0f, 0x00)],
  ] as const) {
    test(name, () => {
      const msg = Buffer.concat([unknown, known]);
      assert.deepEqual(decode(Messages.JWTSVIDResponse, Buffer.concat([bytesOf(0x0a, msg.length), msg])), { svids: [{ spiffe_id: 'a', svid: '', hint: '' }] });
    });
  }
});

describe('malformed protobuf is refused, naming what and where', () => {
  const cases: [name: string, bytes: Buffer, error: RegExp][] = [
    ['truncated varint (tag)', bytesOf(0x80), /^malformed X509SVIDResponse: truncated varint at byte 0$/],
    ['truncated varint (length)', bytesOf(0x12, 0x80, 0x80), /truncated varint at byte 1/],
    ['varint longer than 10 bytes', bytesOf(0x48, ...Array(10).fill(0xff), 0x01), /varint at byte 1 is longer than 10 bytes/],
    ['length past the end', bytesOf(0x12, 0x05, 1, 2), /length 5 at byte 1 runs past the end of the message \(2 bytes left\)/],
    ['huge length', bytesOf(0x12, 0xff, 0xff, 0xff, 0xff, 0x0f), /length 4294967295 at byte 1 runs past the end/],
    ['wire type mismatch', bytesOf(0x08, 0x01), /X509SVIDResponse\.svids \(field 1\) at byte 0 has wire type varint, expected length-delimited/],
    ['wire type mismatch in a nested message', bytesOf(0x0a, 0x02, 0x10, 0x01), /X509SVID\.x509_svid \(field 2\) at byte 2 has wire type varint/],
    ['wire type mismatch in a map entry', bytesOf(0x1a, 0x02, 0x08, 0x01), /X509SVIDResponse\.federated_bundles key \(field 1\)/],
    ['invalid wire type 6', bytesOf(0x4e), /invalid wire type 6 for field 9 at byte 0/],
    ['invalid wire type 7', bytesOf(0x4f), /invalid wire type 7/],
    ['field number 0', bytesOf(0x02, 0x00), /invalid field number 0 at byte 0/],
    ['truncated fixed64', bytesOf(0x49, 1, 2, 3), /truncated fixed-size field at byte 1/],
    ['truncated fixed32', bytesOf(0x4d, 1), /truncated fixed-size field/],
    ['group not closed', bytesOf(0x4b, 0x48, 0x01), /group of field 9 at byte 0 is not closed/],
    ['group closed by another field', bytesOf(0x4b, 0x54), /group of field 9 closed by field 10/],
    ['end-group without a group', bytesOf(0x4c), /unexpected end-group for field 9/],
    ['string not UTF-8', bytesOf(0x0a, 0x03, 0x0a, 0x01, 0xff), /string at byte 3 is not valid UTF-8/],
  ];
  for (const [name, bytes, error] of cases) {
    test(name, () => {
      assert.throws(
        () => decode(Messages.X509SVIDResponse, bytes),
        (e: unknown) => e instanceof ProtoError && error.test(e.message),
      );
    });
  }

  test('Struct nested deeper than 100 levels', () => {
    let claims: object = { fields: {} };
    for (let i = 0; i < 120; i++) claims = { fields: { n: { structValue: claims } } };
    const bytes = encode(Messages.ValidateJWTSVIDResponse, { spiffe_id: '', claims } as never);
    assert.throws(() => decode(Messages.ValidateJWTSVIDResponse, bytes), /messages nested deeper than 100/);
  });
});

test('a map key "__proto__" stays a key and does not replace the prototype', () => {
  const entry = Buffer.concat([bytesOf(0x0a, 9), Buffer.from('__proto__'), bytesOf(0x12, 1, 7)]);
  const got = decode(Messages.JWTBundlesResponse, Buffer.concat([bytesOf(0x0a, entry.length), entry]));
  assert.equal(Object.getPrototypeOf(got.bundles), Object.prototype);
  assert.deepEqual(Object.keys(got.bundles), ['__proto__']);
  assert.deepEqual(Object.getOwnPropertyDescriptor(got.bundles, '__proto__')?.value, bytesOf(7));
});

test('repeated scalar fields and map keys: the last one wins, as in protobuf', () => {
  const got = decode(Messages.JWTSVIDRequest, Buffer.concat([bytesOf(0x12, 1), Buffer.from('a'), bytesOf(0x12, 1), Buffer.from('b')]));
  assert.equal(got.spiffe_id, 'b');
});

/**
 * Item 14 (bounds): a field costs 2 bytes on the wire and up to ~4 µs and ~0.5 KB to decode, so
 * the 32 MiB size limit alone let one message hold the event loop for a minute and exhaust the
 * heap (1,000,000 empty SVIDs in 2 MB: 3.6 s and +477 MB RSS; 10,000,000 in 20 MB: out of memory).
 */
describe('a message of more than LIMITS.messageFields fields is refused before they are decoded', () => {
  const over = LIMITS.messageFields + 1;
  const times = (n: number, one: Buffer): Buffer => Buffer.concat(Array.from({ length: n }, () => one));
  const entry = (key: string): Buffer => Buffer.concat([bytesOf(0x1a, key.length + 2, 0x0a, key.length), Buffer.from(key)]);
  for (const [name, schema, bytes] of [
    ['empty SVIDs (repeated message)', Messages.X509SVIDResponse, times(over, bytesOf(0x0a, 0))],
    ['empty CRLs (repeated bytes)', Messages.X509SVIDResponse, times(over, bytesOf(0x12, 0))],
    ['federated bundle map entries, each with a key', Messages.X509SVIDResponse, Buffer.concat(Array.from({ length: Math.ceil(over / 2) }, (_, i) => entry(String(i))))],
    ['one field repeated (the last would win)', Messages.JWTSVIDRequest, times(over, bytesOf(0x12, 1, 0x41))],
    ['unknown fields (skipped, but each is read)', Messages.JWTBundlesResponse, times(over, bytesOf(0x78, 0))],
  ] as const) {
    test(name, () => {
      assert.throws(
        () => decode(schema as Schema<object>, bytes),
        (e: unknown) => e instanceof TooManyFields && e.message === `a message of more than ${LIMITS.messageFields} fields (${schema.name})`,
      );
    });
  }

  test(`${LIMITS.messageFields} fields are decoded`, () => {
    const got = decode(Messages.X509SVIDResponse, Buffer.concat(Array.from({ length: LIMITS.messageFields }, () => bytesOf(0x12, 0))));
    assert.equal(got.crl.length, LIMITS.messageFields);
  });
});
