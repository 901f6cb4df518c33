/**
 * Every `spiffe-helper` command, by the words that name it. Only the helper itself is imported
 * here: the others are loaded when run (the dev agent's certificate library alone costs ~240 ms
 * that the helper never needs), so a helper run loads none of their code.
 */
import type { Command } from './command.js';
import { helperCommand } from './helper.js';

export interface Entry {
  /** The words after `spiffe-helper`: '' for the helper itself, 'jwt verify'. */
  name: string;
  synopsis: string;
  load(): Promise<Command>;
}

export const commands: readonly Entry[] = [
  {
    name: '',
    synopsis: '[--config FILE] [--once | --daemon-mode=false] [--timeout DURATION] [--log-level LEVEL] [--log-format FORMAT]',
    load: () => Promise.resolve(helperCommand),
  },
  { name: 'dev-agent', synopsis: '[--socket PATH] [--ttl DURATION] [...]', load: async () => (await import('./dev-agent.js')).devAgentCommand },
  {
    name: 'jwt verify',
    synopsis: '--bundle FILE --audience AUDIENCE [--trust-domain TD] TOKEN|-',
    load: async () => (await import('./jwt-verify.js')).jwtVerifyCommand,
  },
  { name: 'convert-config', synopsis: 'FILE|-', load: async () => (await import('./convert-config.js')).convertConfigCommand },
  { name: 'inspect', synopsis: '[--config FILE | --dir DIR [options]] [--json]', load: async () => (await import('./inspect.js')).inspectCommand },
];
