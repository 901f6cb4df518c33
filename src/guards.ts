/** A parsed JSON object: not null, not an array. What parsed input is checked with before its members are read. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
