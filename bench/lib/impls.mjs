import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The helpers under test. Each writes its own configuration for a scenario (TOML for ours,
 * the equivalent HCL for the Go spiffe-helper) and says how to run it in daemon and one-shot
 * mode. Both get the same agent, file names and child program.
 */
export const childPath = fileURLToPath(new URL('../child.mjs', import.meta.url));
export const defaultCliPath = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
/** What users run (package.json bin, the image's ENTRYPOINT): the bundle under V8 flags. */
export const launcherPath = fileURLToPath(new URL('../../bin/spiffe-helper', import.meta.url));

/** The V8 flags bin/spiffe-helper gives a daemon (its `flags="..."` line): the floor runs bare node with them. */
export function launcherFlags() {
  const m = /^flags="([^"]*)"/m.exec(readFileSync(launcherPath, 'utf8'));
  return m ? m[1].split(' ').filter(Boolean) : [];
}

export const FILES = { svid: 'svid.pem', key: 'svid_key.pem', bundle: 'svid_bundle.pem' };

/**
 * The keys both helpers share, in the syntax both read (`key = value` lines are TOML and HCL
 * alike); only the agent address and the form of cmd_args differ.
 */
function writeScenarioConfig(file, s, { agentAddress, cmdArgs, extra = [] }) {
  const lines = [
    `agent_address = ${JSON.stringify(agentAddress)}`,
    `cert_dir = ${JSON.stringify(s.certDir)}`,
    `svid_file_name = "${FILES.svid}"`,
    `svid_key_file_name = "${FILES.key}"`,
    `svid_bundle_file_name = "${FILES.bundle}"`,
  ];
  if (s.federated) lines.push('include_federated_domains = true');
  if (s.child) lines.push(`cmd = ${JSON.stringify(process.execPath)}`, `cmd_args = ${cmdArgs}`, 'renew_signal = "SIGHUP"');
  writeFileSync(file, [...lines, ...extra].join('\n') + '\n');
  return file;
}

/**
 * A scenario: { socketPath, certDir, child (wrap bench/child.mjs with renew_signal SIGHUP),
 * federated (include_federated_domains) }.
 *
 * Our helper as users run it, bin/spiffe-helper, unless `cliPath` or `nodeArgs` ask for
 * `node [nodeArgs] cliPath` (another build, other flags, the unbundled dist/cli.js).
 */
export function ours({ cliPath, nodeArgs = [], label = 'spiffe-helper (TS)', key = 'ours', short = 'TS' } = {}) {
  const direct = cliPath !== undefined || nodeArgs.length > 0;
  const run = (args) => (direct ? [process.execPath, [...nodeArgs, cliPath ?? defaultCliPath, ...args]] : [launcherPath, args]);
  return {
    key,
    short,
    label,
    nodeArgs,
    version: `node ${process.version}, ${direct ? `node ${[...nodeArgs, cliPath ?? defaultCliPath].join(' ')}` : 'bin/spiffe-helper'}`,
    writeConfig: (dir, s) =>
      writeScenarioConfig(join(dir, 'helper.conf'), s, {
        agentAddress: `unix://${s.socketPath}`,
        cmdArgs: `[${JSON.stringify(childPath)}]`,
        // The write path as the Go helper has it: each rotation written and signalled as it
        // comes, without our burst pacing (README: Bursts and reloads).
        extra: ['update_quiet_period = "0s"', 'renew_settle_period = "0s"'],
      }),
    /** [command, args] running the helper with `args`. */
    command: run,
    daemon: (conf) => run(['--config', conf]),
    once: (conf) => run(['--config', conf, '--once', '--timeout', '20s']),
  };
}

/** For comparison: the same helper unbundled, without the launcher's V8 flags. */
export const oursPlain = () => ours({ cliPath: defaultCliPath, label: 'node dist/cli.js (no bundle, no V8 flags)', key: 'plain', short: 'plain' });

export function goReference(binary) {
  let version = 'unknown version';
  try {
    version = execFileSync(binary, ['-version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (e) {
    throw new Error(`--reference ${binary}: cannot run it: ${e.message}`);
  }
  // Built without release ldflags it says "0.11.0-dev-unk"; build-reference.sh names its dir by tag.
  const tag = /go-spiffe-helper-(v[\w.-]+)\//.exec(binary)?.[1];
  return {
    key: 'go',
    short: 'Go',
    label: `Go spiffe-helper ${tag ?? version}`,
    version,
    // HCL, as the Go helper reads it: agent_address a bare path (it prefixes unix://), and
    // cmd_args one string split on spaces by CSV rules, so the path is quoted.
    writeConfig: (dir, s) =>
      writeScenarioConfig(join(dir, 'helper.hcl'), s, {
        agentAddress: s.socketPath,
        cmdArgs: JSON.stringify(`"${childPath}"`),
      }),
    daemon: (conf) => [binary, ['-config', conf]],
    once: (conf) => [binary, ['-config', conf, '-daemon-mode=false']],
  };
}
