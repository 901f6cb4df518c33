/**
 * The Go spiffe-helper's string form of `cmd_args`, read as it reads it: one record of Go's
 * encoding/csv with ' ' as the separator. So every space separates (two spaces give an empty
 * argument, as do a leading or a trailing one); a field that starts with `"` is quoted, `""`
 * inside it is one quote, and it may span lines; a quote anywhere else is an error. Single
 * quotes do not group and nothing is expanded. `\r\n` counts as `\n`, a final `\r` is dropped,
 * and empty lines before the arguments are skipped.
 *
 * Where Go silently drops text (a second line of arguments), this is an error instead.
 */
export function splitCmdArgs(text: string): string[] {
  if (text === '') return [];
  let s = text.replace(/\r\n/g, '\n');
  if (s.endsWith('\r')) s = s.slice(0, -1);
  const start = s.search(/[^\n]/);
  if (start === -1) throw new Error('holds only line breaks: no arguments (the Go helper fails with "EOF")');
  const { args, end } = readRecord(s, start);
  if (/[^\n]/.test(s.slice(end))) {
    throw new Error('a line break ends the arguments: the Go helper would ignore the text after it (put every argument on one line)');
  }
  return args;
}

/** One csv record from `from`: the fields, and where the text after its line break starts. */
function readRecord(s: string, from: number): { args: string[]; end: number } {
  const args: string[] = [];
  let i = from;
  const column = (at: number): number => at - s.lastIndexOf('\n', at - 1);
  for (;;) {
    if (s[i] !== '"') {
      let j = i;
      while (j < s.length && s[j] !== ' ' && s[j] !== '\n') j++;
      const field = s.slice(i, j);
      const quote = field.indexOf('"');
      if (quote !== -1) {
        throw new Error(`bare " in an unquoted argument at column ${column(i + quote)} (quote the whole argument and double the quote: "a""b")`);
      }
      args.push(field);
      if (s[j] === ' ') {
        i = j + 1;
        continue;
      }
      return { args, end: j + 1 };
    }
    let field = '';
    i++;
    for (;;) {
      const close = s.indexOf('"', i);
      if (close === -1) throw new Error('unterminated double quote');
      field += s.slice(i, close);
      i = close + 1;
      if (s[i] === '"') {
        field += '"';
        i++;
        continue;
      }
      if (s[i] === ' ') {
        args.push(field);
        i++;
        break;
      }
      if (s[i] === undefined || s[i] === '\n') {
        args.push(field);
        return { args, end: i + 1 };
      }
      throw new Error(`unexpected character after closing quote at column ${column(i)} (a quote inside a quoted argument is written "")`);
    }
  }
}
