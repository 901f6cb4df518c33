import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isHelperError } from '../../src/errors.js';
import { agentAddress, resolveAgentAddress } from '../../src/config/agent-address.js';
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

// Before: dialled over IPv6 (a socket that cannot even be made where IPv6 is off); go-spiffe
// (Go's net.Dial) connects to the IPv4 address.
for (const spelling of ['::ffff:127.0.0.1', '0:0:0:0:0:FFFF:127.0.0.1', '::ffff:7f00:1']) {
  test(`tcp://[${spelling}]: an IPv4-mapped IPv6 address is dialled as the IPv4 address`, () => {
    const a = parseEndpointAddress(`tcp://[${spelling}]:8081`);
    assert.deepEqual(a, { kind: 'tcp', host: '127.0.0.1', port: 8081, target: '127.0.0.1:8081' });
  });
}

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

// Session 4 probes: each case failed before its fix (accepted, or refused with a wrong reason).
const accepted: [name: string, input: string, target: string][] = [
  ['an upper-case scheme (RFC 3986 3.1: case-insensitive, as Go lower-cases it)', 'UNIX:///run/agent.sock', 'unix:///run/agent.sock'],
  ['a mixed-case single-slash unix scheme', 'Unix:/run/agent.sock', 'unix:///run/agent.sock'],
  ['an upper-case tcp scheme', 'TCP://127.0.0.1:8081', '127.0.0.1:8081'],
  // Passed before; kept as the agreed reading: go-spiffe's url.Parse decodes %2F in the path too.
  ['an encoded slash is a slash, as in go-spiffe', 'unix:///run%2Fagent.sock', 'unix:///run/agent.sock'],
  ['a path of exactly 107 bytes', `unix:///${'a'.repeat(106)}`, `unix:///${'a'.repeat(106)}`],
];
for (const [name, input, target] of accepted) {
  test(`endpoint address accepted: ${name}`, () => {
    assert.equal(parseEndpointAddress(input).target, target);
  });
}

const refused: [name: string, input: string, message: RegExp][] = [
  ['trailing whitespace (it became part of the socket path)', 'unix:///run/agent.sock ', /whitespace around it/],
  ['a trailing newline, as from a file or a ConfigMap', 'unix:///run/agent.sock\n', /whitespace around it/],
  ['leading whitespace', ' unix:///run/agent.sock', /whitespace around it/],
  ['whitespace around a bare path', '/run/agent.sock\t', /whitespace around it/],
  ['a control character inside', 'unix:///run/a\x01b.sock', /control character "\\u0001"/],
  ['a NUL in a bare path (the kernel would see a shorter path)', '/run/a\0b.sock', /control character "\\u0000"/],
  ['a socket path of 108 bytes: longer than sun_path holds (EINVAL at each connect before)', `unix:///${'a'.repeat(107)}`, /socket path is 108 bytes long; a Unix socket path holds at most 107/],
  ['a bare path longer than sun_path', `/${'é'.repeat(60)}`, /socket path is 121 bytes long/],
  ['a percent-encoded path that decodes past sun_path', `unix:///${'%C3%A9'.repeat(60)}`, /socket path is 121 bytes long/],
  ['a path ending with a slash (a directory)', 'unix:///run/spire/', /ends with "\/"/],
  ['an unbracketed IPv6 address (was "the port is missing")', 'tcp://::1:8081', /IPv6 address must be in brackets/],
  ['an IPv4 address in brackets (RFC 3986 3.2.2: brackets hold IPv6)', 'tcp://[127.0.0.1]:8081', /"\[127\.0\.0\.1\]" must hold an IPv6 address/],
  ['an IPv6 zone (was accepted with the zone "25eth0")', 'tcp://[fe80::1%25eth0]:8081', /IPv6 zone \("%25eth0"\) is not supported/],
];
for (const [name, input, message] of refused) {
  test(`endpoint address refused: ${name}`, () => {
    assert.throws(
      () => parseEndpointAddress(input),
      (e) => isHelperError(e, 'address') && message.test(e.message) && e.message.includes(JSON.stringify(input)),
    );
  });
}

test('an invalid SPIRE_AGENT_ADDRESS names the variable (it named only agent_address)', () => {
  assert.throws(
    () => agentAddress(undefined, { SPIRE_AGENT_ADDRESS: 'unix:relative.sock' }),
    (e) => isHelperError(e, 'address') && /^SPIRE_AGENT_ADDRESS: .*must be absolute/.test(e.message),
  );
});
