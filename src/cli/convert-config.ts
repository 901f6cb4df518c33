import { defineCommand } from './command.js';
import { parseConfig } from '../config/load.js';
import { describeError, ExitCode, HelperError } from '../errors.js';
import { readStreamText, readTextFile, whyUnreadable } from '../read-text.js';
import { differencesMet } from '../config/go/differences.js';
import { convertHcl } from '../convert/to-toml.js';

/** `spiffe-helper convert-config FILE`: prints the TOML that a Go helper HCL file converts to. */
export const convertConfigCommand = defineCommand({
  about: `Reads a Go spiffe-helper configuration (HCL; - reads stdin) and prints the equivalent TOML configuration on stdout. Warnings (unknown keys, values that change meaning, and where this helper deliberately differs from the Go helper for this config) go to stderr.

  spiffe-helper convert-config /etc/spiffe-helper/helper.conf > helper.toml`,
  flags: {},
  positional: 'FILE (or - for stdin)',
  exitCodes: [
    ['ok', 'converted, and the result loads'],
    ['usage', 'usage'],
    ['config', 'the file cannot be read or parsed (the line is named), or the result does not load (it is printed anyway, the reason on stderr)'],
    ['interrupted', 'stopped by SIGINT'],
    ['terminated', 'stopped by SIGTERM'],
  ],
  async run({ positional: file }) {
    let text: string;
    try {
      text = file === '-' ? await readStreamText(process.stdin) : await readTextFile(file);
    } catch (e) {
      throw new HelperError('config', `${file}: cannot read: ${whyUnreadable(e)}`);
    }
    const name = file === '-' ? '<stdin>' : file;
    const { toml, warnings } = convertHcl(text, name);
    process.stdout.write(toml);
    for (const w of warnings) process.stderr.write(`${w}\n`);
    let config;
    try {
      // Checked without SPIFFE_HELPER_* variables: the file must stand on its own.
      config = parseConfig(toml, `${name} (converted)`, {});
    } catch (e) {
      throw new HelperError('config', `the converted configuration does not load: ${describeError(e)}`);
    }
    for (const d of differencesMet(config)) process.stderr.write(`warning: ${d}\n`);
    return ExitCode.ok;
  },
});
