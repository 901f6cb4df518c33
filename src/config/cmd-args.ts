/**
 * The Go spiffe-helper's string form of `cmd_args`: split on spaces, double quotes group,
 * `""` inside quotes is a literal quote. Single quotes do not group and nothing is expanded,
 * exactly as the Go helper (which uses encoding/csv with ' ' as the separator) does.
 */
export function splitCmdArgs(text: string): string[] {
  const args: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === ' ') {
      i++;
      continue;
    }
    if (text[i] === '"') {
      let arg = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated double quote');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            arg += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        arg += text[i++];
      }
      if (i < text.length && text[i] !== ' ') throw new Error(`unexpected character after closing quote at position ${i + 1}`);
      args.push(arg);
      continue;
    }
    const end = text.indexOf(' ', i);
    const arg = text.slice(i, end === -1 ? text.length : end);
    if (arg.includes('"')) throw new Error(`bare quote in unquoted argument ${JSON.stringify(arg)}`);
    args.push(arg);
    i = end === -1 ? text.length : end;
  }
  return args;
}
