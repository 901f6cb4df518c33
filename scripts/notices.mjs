// Part of the bundle step: dist/bundle/THIRD-PARTY-NOTICES.txt, the licence texts of the
// third-party packages whose code esbuild put into the bundle, found from its metafile's inputs
// (so it follows whatever the bundle holds, and nothing it does not).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** node_modules/@scope/name/... or node_modules/name/... → the package's directory. */
function packageDir(input) {
  const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  return m?.[1];
}

export function writeNotices(metafile, outdir) {
  const dirs = [...new Set(Object.keys(metafile.inputs).map(packageDir).filter(Boolean))].sort();
  const sections = dirs.map((dir) => {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const files = readdirSync(dir).filter((f) => /^(licen[sc]e|copying|notice)(\.|$)/i.test(f)).sort();
    if (files.length === 0) throw new Error(`${pkg.name}: bundled, but ships no licence file to reproduce`);
    const texts = files.map((f) => readFileSync(join(dir, f), 'utf8').trim());
    return `${pkg.name} ${pkg.version} (${pkg.license ?? 'see below'})\n${'-'.repeat(72)}\n${texts.join('\n\n')}\n`;
  });
  const head = `spiffe-helper bundles the following third-party packages (${dirs.length}) into dist/bundle.\n\n`;
  writeFileSync(join(outdir, 'THIRD-PARTY-NOTICES.txt'), head + sections.join('\n'));
  return dirs.length;
}

export const noticesExist = (outdir) => existsSync(join(outdir, 'THIRD-PARTY-NOTICES.txt'));
