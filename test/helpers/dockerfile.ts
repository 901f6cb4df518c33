import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The repository's Dockerfile as data: instructions by stage, continuation lines joined,
 * comments dropped. Enough for tests that check the image without a Docker engine.
 */
export const dockerfilePath = fileURLToPath(new URL('../../Dockerfile', import.meta.url));
const launcherFile = fileURLToPath(new URL('../../bin/spiffe-helper', import.meta.url));

/** The V8 flags bin/spiffe-helper gives a daemon; the image's ENTRYPOINT must spell out the same. */
export function launcherDaemonFlags(): string[] {
  const m = /^flags="([^"]*)"$/m.exec(readFileSync(launcherFile, 'utf8'));
  if (!m) throw new Error('bin/spiffe-helper: no flags="..." line');
  return m[1]!.split(/\s+/);
}

/** The Node version scripts/node.sh pins (tests, demo, bench). */
export function pinnedNodeVersion(): string {
  const m = /^NODE_VERSION=(\S+)$/m.exec(readFileSync(fileURLToPath(new URL('../../scripts/node.sh', import.meta.url)), 'utf8'));
  if (!m) throw new Error('scripts/node.sh: no NODE_VERSION=');
  return m[1]!;
}

export interface Instruction {
  op: string;
  /** The rest of the line, continuation lines joined with a space. */
  args: string;
  /** The JSON (exec) form, when the arguments are a JSON array. */
  exec?: string[];
  /** Flags such as --from=build, for COPY. */
  flags: Record<string, string>;
}

export interface Stage {
  name?: string;
  from: string;
  instructions: Instruction[];
}

export function readDockerfile(path = dockerfilePath): Stage[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const logical: string[] = [];
  let current = '';
  for (const raw of lines) {
    const line = raw.trim();
    if (current === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      current += line.slice(0, -1).trim() + ' ';
      continue;
    }
    logical.push((current + line).trim());
    current = '';
  }
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^(\w+)\s+(.*)$/.exec(l);
    if (!m) throw new Error(`Dockerfile: cannot read ${JSON.stringify(l)}`);
    const op = m[1]!.toUpperCase();
    let args = m[2]!;
    const flags: Record<string, string> = {};
    while (/^--\w+=\S+\s/.test(args)) {
      const f = /^--(\w+)=(\S+)\s+/.exec(args)!;
      flags[f[1]!] = f[2]!;
      args = args.slice(f[0].length);
    }
    if (op === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      stages.push({ from: from[1]!, name: from[2], instructions: [] });
      continue;
    }
    let exec: string[] | undefined;
    if (args.startsWith('[')) {
      try {
        exec = JSON.parse(args) as string[];
      } catch {
        exec = undefined;
      }
    }
    stages[stages.length - 1]!.instructions.push({ op, args, exec, flags });
  }
  return stages;
}

/** The last value of a single-valued instruction (WORKDIR, ENTRYPOINT, CMD, USER) in a stage. */
export function last(stage: Stage, op: string): Instruction | undefined {
  return stage.instructions.filter((i) => i.op === op).pop();
}
