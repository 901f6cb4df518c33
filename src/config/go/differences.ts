import { lstatSync, readlinkSync, statSync, type Stats } from 'node:fs';
import type { Config } from '../config.js';
import { TABLES, TOP_LEVEL_KEYS } from '../schema.js';
import { outputPath } from '../../output/names.js';

/**
 * Where this helper deliberately differs from the Go spiffe-helper v0.11.0, as far as a config
 * can show that it relies on the Go behaviour. Said once at start-up for a Go config (its HCL,
 * or TOML with the Go helper's keys only) and by convert-config. Each `title` is an entry of
 * test/differential/documented-differences.json and of the README's migration list (a test
 * keeps the three in step).
 */
export interface DeliberateDifference {
  title: string;
  /** What this config meets of the difference, one line each; empty when it does not rely on it. */
  met(config: Config): string[];
}

/** The keys the Go helper v0.11.0 reads at the top level (its health_checks block among them). */
const GO_TOP_LEVEL_KEYS: ReadonlySet<string> = new Set([
  ...Object.entries(TOP_LEVEL_KEYS)
    .filter(([, spec]) => spec.go)
    .map(([key]) => key),
  ...Object.keys(TABLES),
]);

interface Output {
  key: string;
  name: string;
  mode: number;
}

function outputs(c: Config): Output[] {
  const x = c.x509;
  // svid_file_name unset: only the PKCS#12 stores (not the Go helper's) are written.
  const list: Output[] =
    x?.svidFileName !== undefined
      ? [
          { key: 'svid_file_name', name: x.svidFileName, mode: x.svidFileName === x.keyFileName ? x.keyFileMode : x.certFileMode },
          { key: 'svid_key_file_name', name: x.keyFileName!, mode: x.keyFileMode },
          { key: 'svid_bundle_file_name', name: x.bundleFileName!, mode: x.certFileMode },
        ]
      : [];
  if (c.jwtBundleFileName && c.jwtBundleFormat === 'go-helper') list.push({ key: 'jwt_bundle_file_name', name: c.jwtBundleFileName, mode: c.jwtBundleFileMode });
  for (const j of c.jwtSvids) list.push({ key: 'jwt_svid_file_name', name: j.fileName, mode: c.jwtSvidFileMode });
  return list;
}

/** What is at `path` now; undefined when nothing can be seen there (no file, no directory). */
function statOf(path: string, stat: (p: string) => Stats): Stats | undefined {
  try {
    return stat(path);
  } catch {
    return undefined;
  }
}

const octal = (m: number): string => `0${m.toString(8).padStart(3, '0')}`;

export const DELIBERATE_DIFFERENCES: readonly DeliberateDifference[] = [
  {
    title: 'Atomic writes: a new inode per rotation',
    met: (c) =>
      c.daemonMode
        ? [
            "each rotation replaces the files by an atomic rename, so each makes a new inode (the Go helper rewrites them in place): a single-file subPath mount never sees a rotation, and a reader watching a file's inode sees it deleted; mount or watch the directory instead",
          ]
        : [],
  },
  {
    title: 'Planted symlinks are replaced, not followed',
    met: (c) =>
      outputs(c).flatMap((o) => {
        const path = outputPath(c.certDir, o.name);
        if (!statOf(path, lstatSync)?.isSymbolicLink()) return [];
        return [`${o.key}: ${path} is a symlink (to ${readlinkSync(path)}): it is replaced by the file, not written through as the Go helper does; point readers at ${path} itself`];
      }),
  },
  {
    title: 'File modes follow the config',
    met: (c) =>
      outputs(c).flatMap((o) => {
        const st = statOf(outputPath(c.certDir, o.name), statSync);
        if (!st?.isFile() || (st.mode & 0o777) === o.mode) return [];
        return [
          `${o.name} has mode ${octal(st.mode & 0o777)}: it is rewritten with mode ${octal(o.mode)} from the config (the Go helper keeps the mode of a file that exists); set the mode key to ${octal(st.mode & 0o777)} to keep it`,
        ];
      }),
  },
  {
    title: 'Updates are validated',
    met: () => [
      'updates from the agent are validated (chain to the bundle, key, SPIFFE ID, expiry, JWT signature): a bad one is refused and the last good files stay, where the Go helper writes what it gets',
    ],
  },
  {
    title: 'Wrapper semantics: the wrapped cmd stops with the helper',
    met: (c) =>
      c.daemonMode && c.cmd && c.renewSignal
        ? [`cmd ${c.cmd.path} is stopped when the helper stops (its stop signal, then SIGKILL after cmd_stop_grace_period); the Go helper exits and leaves it running`]
        : [],
  },
  {
    title: 'Wrapper semantics in TOML: an exiting cmd ends the helper',
    met: (c) =>
      c.daemonMode && c.cmd && c.renewSignal && c.cmd.restartPolicy === 'never'
        ? [
            'cmd with renew_signal: when the program exits, this helper exits with its exit code (wrapper semantics, the default in TOML); the Go helper starts it again at the next rotation: set cmd_restart_policy = "next-rotation" for that',
          ]
        : [],
  },
  {
    title: 'Health: our details beside the Go body, stricter readiness',
    met: (c) =>
      c.health.enabled
        ? [
            "health: the body carries our fields (live, ready, x509_svid, not_ready, last_error) beside the Go helper's status and file_write_statuses; ready also means every output is unexpired, unredacted and still as written",
          ]
        : [],
  },
  {
    title: 'JWT extra audiences in one-shot mode',
    met: (c) => (!c.daemonMode && c.jwtSvids.some((j) => j.extraAudiences.length > 0) ? ['jwt_extra_audiences are requested in one-shot mode too; the Go helper drops them there'] : []),
  },
  {
    title: 'Exit codes',
    met: (c) =>
      c.daemonMode
        ? []
        : ['one-shot: each kind of failure exits with its own code (3 config, 4 no identity in time, 6 files not written, 10 another helper on the directory), where the Go helper exits 1'],
  },
];

/** Every difference `config` meets, each line naming its title. */
export function differencesMet(config: Config): string[] {
  return DELIBERATE_DIFFERENCES.flatMap((d) => d.met(config).map((m) => `differs from the Go helper (${d.title}): ${m}`));
}

/** A config written for the Go helper: its HCL or HCL-JSON, or TOML that uses the Go helper's keys only. */
export function isGoConfig(dialect: Config['dialect'], keys: readonly string[]): boolean {
  return dialect === 'hcl' || dialect === 'hcl-json' || (dialect === 'toml' && keys.length > 0 && keys.every((k) => GO_TOP_LEVEL_KEYS.has(k)));
}
