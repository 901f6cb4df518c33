/**
 * go-spiffe's endpoint address parser (workloadapi.TargetFromAddress, the version pinned in
 * address-interop/go.mod) as a second opinion on src/workload/address.ts. Every case either
 * agrees (both refuse, or both accept and name the same socket path or tcp target) or is in
 * `differences`, with the reason we part from go-spiffe there.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { before, test } from 'node:test';
import { parseEndpointAddress } from '../../src/workload/address.js';
import { goBuild } from '../helpers/go-build.js';
import { vectors } from '../helpers/vectors.js';

const long = 'a'.repeat(120);
const probes = [
  ...vectors.endpoint_address.map((v) => v.in),
  'UNIX:///run/agent.sock',
  'Unix:/run/agent.sock',
  'TCP://127.0.0.1:8081',
  'unix:///run/a%20b.sock',
  'unix:///run%2Fagent.sock',
  'unix:///run/%C3%A9.sock',
  'unix:///run/a%zz.sock',
  'unix:///run/a.sock%2',
  'unix:////run/agent.sock',
  'unix://localhost/run/agent.sock',
  'unix:%2Frun',
  'unix:///run/a\x01b.sock',
  'tcp://[::1]:8081',
  'tcp://localhost:1',
  'tcp://[fe80::1%25eth0]:8081',
  'tcp://[127.0.0.1]:8081',
  'tcp://1.2.3.4:',
  'unix:///run/%2e%2e/agent.sock',
  'unix:///run/./agent.sock',
  'unix:///run/a+b;c=d,e.sock',
  'unix:///run/%E2%9C%93.sock',
  'unix:run/agent.sock',
  'unix:',
  'unix://',
  'unix://@/run/agent.sock',
  'tcp://127.0.0.1:0080',
  'tcp://[::ffff:127.0.0.1]:8081',
  'tcp://[::1]:8081/',
  'tcp://127.1:8081',
  'tcp://0x7f.0.0.1:8081',
  'tcp://127.0.0.1:+80',
  'tcp://127.0.0.1',
  'tcp:127.0.0.1:8081',
  // go-spiffe passes these on; see `differences`.
  'unix:///run/agent.sock?',
  'unix:///run/agent.sock#',
  'unix:///run/agent.sock ',
  'unix:///run/spire/',
  `unix:///${long}`,
  'unix:///run/a%00b.sock',
  'unix:///run/%ff.sock',
  'tcp://::1:8081',
  'tcp://1.2.3.4:0',
  'tcp://1.2.3.4:99999',
];

/** Inputs on which we knowingly differ from go-spiffe, and why. */
const differences: Record<string, string> = {
  '/run/spire/sockets/agent.sock': 'a bare path is what spiffe-helper users write in agent_address (go-spiffe wants a scheme)',
  'unix:///': 'the root directory is no socket (the vectors refuse it too)',
  'unix://host/tmp/agent.sock': 'the Workload Endpoint spec forbids an authority; go-spiffe tolerates it',
  'unix://localhost/run/agent.sock': 'likewise, even "localhost"',
  'unix:///run/agent.sock?': 'a query, even empty, is refused by the spec; go-spiffe only looks at a non-empty one',
  'unix:///run/agent.sock#': 'likewise a fragment',
  'unix:///run/agent.sock ': 'whitespace around the value is a copy-paste accident, not part of a socket name (%20 says so)',
  'unix:///run/spire/': 'a path ending in "/" names a directory',
  [`unix:///${long}`]: 'longer than sun_path: connect() can only fail (EINVAL, retried for ever)',
  'unix:///run/a%00b.sock': 'a NUL would cut the path the kernel sees',
  'unix:///run/%ff.sock': 'a socket path is UTF-8 text (RFC 3986 2.5)',
  'tcp://::1:8081': 'RFC 3986 3.2.2: an IPv6 literal is in brackets',
  'tcp://1.2.3.4:0': 'port 0 cannot be connected to',
  'tcp://1.2.3.4:99999': 'no such port',
};

let binary = '';
before(
  async () => {
    binary = (await goBuild(fileURLToPath(new URL('./address-interop/', import.meta.url)), 'address-interop')).binary;
  },
  { timeout: 10 * 60_000 },
);

/** What go-spiffe makes of each input: the socket path or tcp target it names, or undefined if refused. */
function goSpiffe(inputs: string[]): (string | undefined)[] {
  const r = spawnSync(binary, [], { input: JSON.stringify(inputs), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { target?: string }[]).map(({ target }) => (target === undefined ? undefined : target.startsWith('unix:') ? socketPathOf(target) : dialled(target)));
}

/**
 * The path gRPC-Go connects to for a unix: target: its resolver takes Go's url.Parse Path, the
 * part after the authority and before a query or fragment, percent-decoded, dot segments kept
 * (WHATWG URL's pathname would remove them, and name another file when a directory is a symlink).
 */
function socketPathOf(target: string): string {
  const path = /^unix:(?:\/\/[^/?#]*)?([^?#]*)/i.exec(target)![1]!;
  try {
    return decodeURIComponent(path);
  } catch {
    return path; // not UTF-8: kept encoded, as no socket path of ours can equal it
  }
}

/** A tcp target as it is dialled: Go's net.Dial reads the port as a decimal number ("0080" is 80). */
function dialled(target: string): string {
  return target.replace(/:(\d+)$/, (_, port: string) => `:${Number(port)}`);
}

function ours(input: string): string | undefined {
  try {
    const a = parseEndpointAddress(input);
    return a.kind === 'unix' ? a.socketPath : a.target;
  } catch {
    return undefined;
  }
}

test(`go-spiffe agrees on ${probes.length - Object.keys(differences).length} of ${probes.length} endpoint addresses; each difference is one we chose`, () => {
  const theirs = goSpiffe(probes);
  const disagree: string[] = [];
  probes.forEach((input, i) => {
    const same = ours(input) === theirs[i];
    if (same === (differences[input] === undefined)) return;
    disagree.push(
      `${JSON.stringify(input)}: ours ${JSON.stringify(ours(input) ?? 'refused')}, go-spiffe ${JSON.stringify(theirs[i] ?? 'refused')}${same ? ' (listed as a difference, but they agree)' : ''}`,
    );
  });
  assert.deepEqual(disagree, []);
});
