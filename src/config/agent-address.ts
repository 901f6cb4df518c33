import { HelperError } from '../errors.js';
import { ENDPOINT_ENV, parseEndpointAddress, type EndpointAddress } from '../workload/address.js';
import { DEFAULT_AGENT_ADDRESS } from './schema.js';

/** What the Go helper v0.11.0 still reads, with a deprecation warning, when agent_address is not set. */
export const DEPRECATED_ADDRESS_ENV = 'SPIRE_AGENT_ADDRESS';

export interface AgentAddress {
  address: EndpointAddress;
  source: string;
  /** The deprecation warning, when SPIRE_AGENT_ADDRESS was used. */
  notice?: string;
}

/**
 * The Go helper's order: `agent_address`; else SPIRE_AGENT_ADDRESS when SPIFFE_ENDPOINT_SOCKET
 * is not set (with a deprecation warning), and an error when both are; else
 * SPIFFE_ENDPOINT_SOCKET; else SPIRE's default socket. An empty variable counts as not set.
 */
export function agentAddress(configured: string | undefined, env: NodeJS.ProcessEnv): AgentAddress {
  const deprecated = env[DEPRECATED_ADDRESS_ENV];
  if ((configured !== undefined && configured !== '') || deprecated === undefined || deprecated === '') return resolveAgentAddress(configured, env);
  if (env[ENDPOINT_ENV]) {
    throw new Error(`both ${DEPRECATED_ADDRESS_ENV} and ${ENDPOINT_ENV} are set: set ${ENDPOINT_ENV} only (${DEPRECATED_ADDRESS_ENV} is deprecated; the Go helper refuses this too)`);
  }
  return {
    address: parseFromEnv(DEPRECATED_ADDRESS_ENV, deprecated),
    source: DEPRECATED_ADDRESS_ENV,
    notice: `warning: ${DEPRECATED_ADDRESS_ENV} is deprecated: set ${ENDPOINT_ENV} (or agent_address) instead`,
  };
}

/** Explicit configuration wins, then the environment, then SPIRE's default socket. */
export function resolveAgentAddress(configured: string | undefined, env: NodeJS.ProcessEnv): AgentAddress {
  if (configured !== undefined && configured !== '') return { address: parseEndpointAddress(configured), source: 'agent_address' };
  const fromEnv = env[ENDPOINT_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return { address: parseFromEnv(ENDPOINT_ENV, fromEnv), source: ENDPOINT_ENV };
  return { address: parseEndpointAddress(DEFAULT_AGENT_ADDRESS), source: 'default' };
}

function parseFromEnv(variable: string, value: string): EndpointAddress {
  try {
    return parseEndpointAddress(value);
  } catch (e) {
    // The config error names agent_address; the value came from the environment.
    throw new HelperError('address', `${variable}: ${(e as Error).message}`);
  }
}
