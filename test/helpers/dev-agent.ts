import { join } from 'node:path';
import { after } from 'node:test';
import { startDevAgent, type DevAgent, type DevAgentOptions } from '../../src/dev/agent.js';

const started: DevAgent[] = [];
let hooked = false;

/** A dev agent on `<dir>/agent.sock`, closed after the test file whatever happens. */
export async function devAgent(dir: string, options: Partial<DevAgentOptions> = {}): Promise<DevAgent> {
  if (!hooked) {
    hooked = true;
    after(() => Promise.all(started.map((a) => a.close())));
  }
  const agent = await startDevAgent({ socketPath: join(dir, 'agent.sock'), ...options });
  started.push(agent);
  return agent;
}
