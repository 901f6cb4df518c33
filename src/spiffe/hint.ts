import { HelperError } from '../errors.js';

const NOUN = { x509svid: 'SVID', jwtsvid: 'JWT-SVID' } as const;

/**
 * The SVID the config asks for among those the agent sent: the one with the hint, else the
 * first (the workload's default identity). On duplicate hints the first wins, as in go-spiffe.
 * A hint that is no longer sent is the redaction of that identity (reason `hint_not_sent`).
 */
export function selectByHint<T extends { readonly hint: string }>(svids: readonly T[], hint: string, kind: keyof typeof NOUN): T {
  const noun = NOUN[kind];
  if (svids.length === 0) throw new HelperError(kind, `${kind}: the response holds no ${noun}s`);
  if (hint === '') return svids[0]!;
  const svid = svids.find((s) => s.hint === hint);
  if (!svid) {
    const have = svids.map((s) => JSON.stringify(s.hint)).join(', ');
    throw new HelperError(kind, `${kind}: no ${noun} has hint ${JSON.stringify(hint)} (the agent sent hints: ${have})`, { reason: 'hint_not_sent' });
  }
  return svid;
}
