import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isHelperError } from '../../src/errors.js';
import { resolveAgentAddress } from '../../src/config/agent-address.js';
import { DEFAULT_AGENT_ADDRESS } from '../../src/config/schema.js';
import { parseEndpointAddress } from '../../src/workload/address.js';
import { vectors } from '../helpers/vectors.js';

for (const v of vectors.endpoint_address) {
  test(`endpoint address ${JSON.stringify(v.in)} is ${v.valid ? 'valid' : 'invalid'}${v.note ? ` (${v.note})` : ''}`, () => {
    if (!v.valid) {
      assert.throws(
        () => parseEndpointAddress(v.in),
        (e) => isHelperError(e, 'address') && e.message.includes(JSON.stringify(v.in)),
      );
      return;
    }
    const a = parseEndpointAddress(v.in);
    if (v.socket) {
      assert.equal(a.kind, 'unix');
      assert.equal(a.kind === 'unix' && a.socketPath, v.socket);
      // grpc-js resolves a bare path through DNS; the target must always carry the scheme.
      assert.equal(a.target, `unix://${v.socket}`);
    } else {
      assert.equal(a.kind, 'tcp');
      assert.equal(a.target, v.in.replace('tcp://', ''));
    }
  });
}

test('tcp with an IPv6 literal keeps the brackets in the grpc target', () => {
  const a = parseEndpointAddress('tcp://[::1]:8000');
  assert.equal(a.target, '[::1]:8000');
});

test('agent_address wins over SPIFFE_ENDPOINT_SOCKET, which wins over the SPIRE default', () => {
  const env = { SPIFFE_ENDPOINT_SOCKET: 'unix:///env/agent.sock' };
  assert.deepEqual(resolveAgentAddress('/cfg/agent.sock', env).source, 'agent_address');
  assert.equal(resolveAgentAddress('/cfg/agent.sock', env).address.target, 'unix:///cfg/agent.sock');
  assert.equal(resolveAgentAddress(undefined, env).address.target, 'unix:///env/agent.sock');
  assert.equal(resolveAgentAddress(undefined, env).source, 'SPIFFE_ENDPOINT_SOCKET');
  const d = resolveAgentAddress(undefined, {});
  assert.equal(d.source, 'default');
  assert.equal(d.address.target, DEFAULT_AGENT_ADDRESS);
});

test('an invalid SPIFFE_ENDPOINT_SOCKET is an error, not a silent fallback', () => {
  assert.throws(() => resolveAgentAddress(undefined, { SPIFFE_ENDPOINT_SOCKET: 'unix:relative' }), /must be absolute/);
});

// RFC 3986: the path of a unix: URI is percent-encoded; a bare path is a file name, taken as is.
const percentCases: [name: string, input: string, socket: string][] = [
  ['a space as %20', 'unix:///run/a%20b.sock', '/run/a b.sock'],
  ['the single-slash form', 'unix:/run/a%20b.sock', '/run/a b.sock'],
  ['lower-case hex', 'unix:///run/%c3%a9.sock', '/run/é.sock'],
  ['an encoded percent sign', 'unix:///run/100%25.sock', '/run/100%.sock'],
  ['an encoded query mark is part of the name', 'unix:///run/a%3Fb.sock', '/run/a?b.sock'],
  ['a bare path is not decoded', '/run/a%20b.sock', '/run/a%20b.sock'],
];
for (const [name, input, socket] of percentCases) {
  test(`endpoint address percent-decoding: ${name}`, () => {
    const a = parseEndpointAddress(input);
    assert.equal(a.kind === 'unix' && a.socketPath, socket);
    assert.equal(a.target, `unix://${socket}`);
  });
}

const badPercent: [name: string, input: string, message: RegExp][] = [
  ['% and non-hex digits', 'unix:///run/a%zzb.sock', /invalid percent-encoding "%zz"/],
  ['a truncated escape at the end', 'unix:///run/a.sock%2', /invalid percent-encoding "%2"/],
  ['a lone percent sign', 'unix:///run/100%.sock', /invalid percent-encoding "%.s"/],
  ['bytes that are not UTF-8', 'unix:///run/%ff.sock', /not UTF-8/],
  ['an encoded NUL', 'unix:///run/a%00b.sock', /NUL/],
];
for (const [name, input, message] of badPercent) {
  test(`endpoint address percent-decoding rejects: ${name}`, () => {
    assert.throws(
      () => parseEndpointAddress(input),
      (e) => isHelperError(e, 'address') && message.test(e.message) && e.message.includes(JSON.stringify(input)),
    );
  });
}

test('an invalid SPIFFE_ENDPOINT_SOCKET names the variable', () => {
  assert.throws(() => resolveAgentAddress(undefined, { SPIFFE_ENDPOINT_SOCKET: 'unix:///run/a%zz.sock' }), /^HelperError: SPIFFE_ENDPOINT_SOCKET: .*invalid percent-encoding/);
});
