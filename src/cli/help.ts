/** The one help format: usage line(s), what the command does, its flags, its exit codes. */
import { ExitCode } from '../errors.js';
import type { Command } from './command.js';

const WIDTH = 96;
const FLAG_COLUMN = 25;

/** Words of `text` in lines of at most WIDTH columns, every line after the first indented by `indent`. */
function wrap(text: string, indent: number, first = indent): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const room = WIDTH - (lines.length === 0 ? first : indent);
    if (line !== '' && line.length + 1 + word.length > room) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

function flagLine(names: string, doc: string): string {
  const head = `  ${names}`;
  return head.length < FLAG_COLUMN - 1 ? `${head.padEnd(FLAG_COLUMN)}${wrap(doc, FLAG_COLUMN)}` : `${head}\n${' '.repeat(FLAG_COLUMN)}${wrap(doc, FLAG_COLUMN)}`;
}

/** `usage`: the synopsis lines, `spiffe-helper ...` each. */
export function renderHelp(usage: readonly string[], command: Command): string {
  const flags = Object.entries(command.flags).map(([name, spec]) => {
    const choices = spec.choices && !spec.value ? ` ${spec.choices.join('|')}` : '';
    return flagLine(`--${name}${spec.value ? ` ${spec.value}` : choices}`, spec.doc);
  });
  flags.push(flagLine('-h, --help', 'show this help'));
  const codes = command.exitCodes.map(([name, meaning]) => `${ExitCode[name]} ${meaning}`).join('; ');
  const about = command.about.split(/\n\n/).map((p) => (p.startsWith(' ') ? p : wrap(p, 0)));
  const sections = [`Usage: ${usage.join(`\n${' '.repeat('Usage: '.length)}`)}`, ...about, `Flags:\n${flags.join('\n')}`, `Exit codes: ${wrap(`${codes}.`, 0, 'Exit codes: '.length)}`];
  return `${sections.join('\n\n')}\n`;
}
