import { dirname } from 'node:path';

/**
 * The environment of every process the bench measures. Variables that change how Node starts
 * are removed (NODE_EXTRA_CA_CERTS alone costs Node 20 ~90 ms per start: it parses the CA file
 * before V8 starts) and reported in the header of docs/BENCHMARKS.md; `node` on PATH is the Node
 * running the bench, so bin/spiffe-helper and the floors run on the same binary.
 */
export const STARTUP_VARS = [
  'NODE_OPTIONS',
  'NODE_EXTRA_CA_CERTS',
  'NODE_USE_SYSTEM_CA',
  'NODE_COMPILE_CACHE',
  'NODE_DISABLE_COMPILE_CACHE',
  'NODE_V8_COVERAGE',
  'NODE_DEBUG',
  'NODE_DEBUG_NATIVE',
  'NODE_PATH',
  'NODE_ICU_DATA',
  'NODE_PENDING_DEPRECATION',
  'NODE_REDIRECT_WARNINGS',
  'UV_THREADPOOL_SIZE',
];

/** The start-up variables set where the bench was started: removed for the measured processes. */
export const removedVars = STARTUP_VARS.filter((v) => process.env[v] !== undefined);

export const benchEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !STARTUP_VARS.includes(k))),
  PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
};
