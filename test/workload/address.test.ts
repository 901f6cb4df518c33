import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isHelperError } from '../../src/errors.js';
import { DEFAULT_AGENT_ADDRESS, parseEndpointAddress, resolveAgentAddress } from '../../src/workload/address.js';
import { vectors } from '../helpers/vectors.js';

for (const v of vectors.endpoint_address) {
  test(`endpoint address ${JSON.stringify(v.in)} is ${v.valid ? 'valid' : 'invalid'}${v.note ? ` (${v.note})` : ''}`, () => {
    if (!v.valid) {
      assert.throws(() => parseEndpointAddress(v.in), (e) => isHelperError(e, 'address') && e.message.includes(JSON.stringify(v.in)));
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
