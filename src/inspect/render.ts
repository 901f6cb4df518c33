import type { InspectReport } from './document.js';

/** The report for a person: one block per file, then warnings, then the verdict and problems. */
export function renderText(r: InspectReport, now: Date): string {
  const lines: string[] = [];
  const row = (label: string, value: string): void => void lines.push(`  ${label.padEnd(11)} ${value}`);
  if (r.x509_svid) {
    const x = r.x509_svid;
    lines.push(`X.509-SVID  ${x.file}`);
    row('SPIFFE ID', x.spiffe_id ?? '(none)');
    row('serial', x.serial);
    row('issuer', x.issuer);
    row('valid', `${x.not_before} to ${x.not_after} (${timeLeft(x.seconds_left)})`);
    row(
      'chain',
      `${x.intermediates === 0 ? 'leaf only' : `leaf + ${x.intermediates} intermediate${x.intermediates > 1 ? 's' : ''}`}; ${x.chain.verified ? `verifies: ${x.chain.detail}` : `DOES NOT VERIFY: ${x.chain.detail}`}`,
    );
    row('key', x.key_matches === null ? `${x.key_file}: not checked` : x.key_matches ? `${x.key_file} matches the certificate` : `${x.key_file} DOES NOT MATCH the certificate`);
  }
  for (const b of r.bundles) {
    lines.push(`Bundle      ${b.file}`);
    const tds = Object.entries(b.trust_domains)
      .map(([td, n]) => `${td} (${n})`)
      .join(', ');
    row('CAs', `${b.certificates}: ${tds}${b.expired ? `; ${b.expired} expired` : ''}`);
  }
  for (const j of r.jwt_svids) {
    lines.push(`JWT-SVID    ${j.file}`);
    if (j.spiffe_id !== undefined) row('subject', j.spiffe_id);
    if (j.audience) row('audience', j.audience.join(', '));
    if (j.expiry !== undefined) row('expires', `${j.expiry} (${timeLeft(j.seconds_left!)})`);
    if (j.alg !== undefined) row('alg / kid', `${j.alg} / ${j.kid ?? '(none)'}`);
    row('signature', j.signature);
  }
  for (const b of r.jwt_bundles) {
    lines.push(`JWT bundle  ${b.file}`);
    row(
      'keys',
      Object.entries(b.trust_domains)
        .map(([td, n]) => `${td} (${n} key${n === 1 ? '' : 's'})`)
        .join(', ') || '(no trust domain)',
    );
  }
  for (const s of r.stores) {
    lines.push(`${(s.kind === 'keystore' ? 'Keystore' : 'Truststore').padEnd(10)}  ${s.file}`);
    row('integrity', s.integrity);
    for (const k of s.keys) {
      row('alias', `${k.alias ?? '(none)'}: private key ${k.key_matches === null ? 'not checked' : k.key_matches ? 'matches the certificate' : 'DOES NOT MATCH the certificate'}`);
      if (k.spiffe_id !== undefined) row('SPIFFE ID', k.spiffe_id);
      if (k.serial !== undefined) row('serial', k.serial);
      if (k.not_after !== undefined) row('valid', `${k.not_before} to ${k.not_after} (${timeLeft(k.seconds_left!)})`);
      if (k.chain.length > 0) row('chain', k.chain.join(' <- '));
      if (k.chain_verified) row('verifies', k.chain_verified.verified ? `against the truststore: ${k.chain_verified.detail}` : `NO: ${k.chain_verified.detail}`);
    }
    for (const c of s.trusted) row('trusted', `${c.alias ?? '(no alias)'}: ${c.subject}${c.trust_domain ? ` [${c.trust_domain}]` : ''}, until ${c.not_after}${c.expired ? ' (EXPIRED)' : ''}`);
  }
  if (r.warnings.length > 0) lines.push('', 'Warnings:', ...r.warnings.map((w) => `  - ${w}`));
  lines.push('', r.ok ? `OK at ${now.toISOString()}: every file is present, unexpired and consistent.` : `PROBLEMS at ${now.toISOString()}:`);
  lines.push(...r.problems.map((p) => `  - ${p}`));
  return lines.join('\n') + '\n';
}

function timeLeft(seconds: number): string {
  const abs = Math.abs(seconds);
  const d = Math.floor(abs / 86400);
  const h = Math.floor((abs % 86400) / 3600);
  const m = Math.floor((abs % 3600) / 60);
  const s = abs % 60;
  const text = [d && `${d}d`, h && `${h}h`, m && `${m}m`, `${s}s`].filter(Boolean).slice(0, 3).join(' ');
  return seconds > 0 ? `expires in ${text}` : `EXPIRED ${text} ago`;
}
