import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { descriptorFromProto, workloadServiceDefinition } from '../../src/workload/proto.js';

const builtDescriptor = fileURLToPath(new URL('../../dist/workload/workload.json', import.meta.url));

test('the service has the SPIRE method paths and stream kinds', () => {
  const def = workloadServiceDefinition();
  const kinds = Object.fromEntries(Object.entries(def).map(([name, m]) => [name, [m.path, m.requestStream, m.responseStream]]));
  assert.deepEqual(kinds, {
    FetchX509SVID: ['/SpiffeWorkloadAPI/FetchX509SVID', false, true],
    FetchX509Bundles: ['/SpiffeWorkloadAPI/FetchX509Bundles', false, true],
    FetchJWTSVID: ['/SpiffeWorkloadAPI/FetchJWTSVID', false, false],
    FetchJWTBundles: ['/SpiffeWorkloadAPI/FetchJWTBundles', false, true],
    ValidateJWTSVID: ['/SpiffeWorkloadAPI/ValidateJWTSVID', false, false],
  });
});

test('the JSON descriptor written by the build is the one proto/workload.proto gives today', { skip: !existsSync(builtDescriptor) && 'no dist/: run npm run build' }, () => {
  const fresh = JSON.parse(JSON.stringify(descriptorFromProto()));
  assert.deepEqual(JSON.parse(readFileSync(builtDescriptor, 'utf8')), fresh, 'dist/workload/workload.json is stale: npm run build');
});

test('messages decode as proto-loader decoded them: snake_case, defaults filled, bytes as Buffer', () => {
  const m = workloadServiceDefinition().FetchX509SVID!;
  const sent = {
    svids: [{ spiffe_id: 'spiffe://example.org/w', x509_svid: Buffer.from([1, 2]), x509_svid_key: Buffer.from([3]), bundle: Buffer.from([4]) }],
    federated_bundles: { 'spiffe://partner.org': Buffer.from([5]) },
  };
  const got = m.responseDeserialize(m.responseSerialize(sent) as Buffer) as Record<string, unknown>;
  assert.deepEqual(got, {
    svids: [{ spiffe_id: 'spiffe://example.org/w', x509_svid: Buffer.from([1, 2]), x509_svid_key: Buffer.from([3]), bundle: Buffer.from([4]), hint: '' }],
    crl: [],
    federated_bundles: { 'spiffe://partner.org': Buffer.from([5]) },
  });
  assert.ok(Buffer.isBuffer((got.svids as { x509_svid: unknown }[])[0]!.x509_svid));
});

test('google.protobuf.Struct claims keep proto-loader\'s object form', () => {
  const m = workloadServiceDefinition().ValidateJWTSVID!;
  const claims = { fields: { sub: { stringValue: 'x' }, n: { nullValue: 'NULL_VALUE' }, l: { listValue: { values: [{ numberValue: 1 }] } } } };
  const got = m.responseDeserialize(m.responseSerialize({ spiffe_id: 's', claims }) as Buffer) as { claims: { fields: Record<string, Record<string, unknown>> } };
  assert.equal(got.claims.fields.sub!.stringValue, 'x');
  assert.equal(got.claims.fields.n!.nullValue, 'NULL_VALUE');
  assert.equal(got.claims.fields.n!.kind, 'nullValue');
  assert.deepEqual(got.claims.fields.l!.listValue, { values: [{ numberValue: 1, kind: 'numberValue' }] });
});
