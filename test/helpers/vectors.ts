import { readFileSync } from 'node:fs';

/** Shared cases from the SPIFFE standards (a copy of shared/spec/test-vectors.json). */
export interface Vectors {
  spiffe_id: { in: string; valid: boolean; note?: string }[];
  endpoint_address: { in: string; valid: boolean; socket?: string; note?: string }[];
  cmd_args_string_form: { in: string; args?: string[]; error?: string; note?: string }[];
}

export const vectors: Vectors = JSON.parse(readFileSync(new URL('../fixtures/test-vectors.json', import.meta.url), 'utf8'));
