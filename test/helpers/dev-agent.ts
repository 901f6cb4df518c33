import { join } from 'node:path';
import { after } from 'node:test';
import { startDevAgent, type DevAgent, type DevAgentOptions } from '../../src/dev/agent.js';

/**
 * A dev agent on `<dir>/agent.sock`, closed whatever happens: after the test that started it
 * (or after the file, when started outside a test).
 */
export async function devAgent(dir: string, options: Partial<DevAgentOptions> = {}): Promise<DevAgent> {
  const agent = await startDevAgent({ socketPath: join(dir, 'agent.sock'), ...options });
  after(() => agent.close());
  return agent;
}
