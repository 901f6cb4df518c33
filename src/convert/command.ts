import { text as readAll } from 'node:stream/consumers';
import { parseConfig } from '../config/load.js';
import { describeError, exitCodeFor, ExitCode, HelperError } from '../errors.js';
import { differencesMet } from './differences.js';
import { convertHcl } from './to-toml.js';
import { readTextFile } from '../read-text.js';

/** `spiffe-helper convert-config FILE`: prints the TOML that a Go helper HCL file converts to. */
export const convertConfigUsage = `Usage: spiffe-helper convert-config FILE|-

Reads a Go spiffe-helper configuration (HCL; - reads stdin) and prints the equivalent TOML
configuration on stdout. Warnings (unknown keys, values that change meaning, and where this
helper deliberately differs from the Go helper for this config) go to stderr.

  spiffe-helper convert-config /etc/spiffe-helper/helper.conf > helper.toml

Exit codes: 0 converted, and the result loads; 2 usage; 3 the file cannot be read or parsed
(the line is named), or the result does not load (it is printed anyway, the reason on stderr).
`;

export interface ConvertIo {
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
  stdin?: NodeJS.ReadableStream;
}

export async function runConvertConfigCommand(argv: string[], io: ConvertIo = {}): Promise<number> {
  const stdout = io.stdout ?? ((t: string) => void process.stdout.write(t));
  const stderr = io.stderr ?? ((t: string) => void process.stderr.write(t));
  if (argv.includes('-h') || argv.includes('--help')) {
    stdout(convertConfigUsage);
    return ExitCode.ok;
  }
  if (argv.length !== 1 || (argv[0]!.startsWith('-') && argv[0] !== '-')) {
    stderr(`spiffe-helper convert-config: expected one file name\n\n${convertConfigUsage}`);
    return ExitCode.usage;
  }
  const file = argv[0]!;
  try {
    let text: string;
    try {
      text = file === '-' ? await readAll(io.stdin ?? process.stdin) : await readTextFile(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new HelperError('config', `${file}: cannot read: ${code === 'ENOENT' ? 'file not found' : (e as Error).message}`);
    }
    const name = file === '-' ? '<stdin>' : file;
    const { toml, warnings } = convertHcl(text, name);
    stdout(toml);
    for (const w of warnings) stderr(`${w}\n`);
    let config;
    try {
      // Checked without SPIFFE_HELPER_* variables: the file must stand on its own.
      config = parseConfig(toml, `${name} (converted)`, {});
    } catch (e) {
      stderr(`error: the converted configuration does not load: ${describeError(e)}\n`);
      return ExitCode.config;
    }
    for (const d of differencesMet(config)) stderr(`warning: ${d}\n`);
    return ExitCode.ok;
  } catch (e) {
    stderr(`error: ${describeError(e)}\n`);
    return exitCodeFor(e);
  }
}
