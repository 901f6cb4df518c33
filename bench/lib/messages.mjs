import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { join } from 'node:path';
import { startDevAgent } from '../../dist/dev/agent.js';
import { encode, Messages } from '../../dist/workload/proto.js';

/**
 * Mints X509SVIDResponse messages ahead of time with a development agent that nobody connects
 * to, so that signing costs stay out of every measurement: the agent that serves a helper
 * only ever forwards a prepared message (pushX509).
 */
x509.cryptoProvider.set(webcrypto);

export class Minter {
  static async start(dir) {
    const agent = await startDevAgent({ socketPath: join(dir, 'minter.sock'), svidTtlSeconds: 86_400 });
    return new Minter(agent);
  }

  constructor(agent) {
    this.agent = agent;
    this.extraCas = [];
    this.shape = '';
  }

  /**
   * `count` messages of one shape: `svids` SVIDs (the first is the default), the SVIDs' own
   * trust domain bundle holding the real root plus `cas - 1` more CA certificates, and
   * `federated` federated trust domains (one CA each). Consecutive messages always differ (a
   * new leaf), so every one of them is a rotation.
   */
  async mint({ svids = 1, cas = 1, federated = 0 }, count) {
    const shape = `${svids}/${federated}`;
    if (shape !== this.shape) {
      this.agent.setIdentities(Array.from({ length: svids }, (_, i) => ({ spiffeId: `spiffe://example.org/workload-${i}`, hint: svids > 1 ? `w${i}` : '' })));
      this.agent.setFederatedTrustDomains(Array.from({ length: federated }, (_, i) => `partner-${i}.example`));
      this.shape = shape;
    }
    const extra = Buffer.concat(await this.extraCaDers(cas - 1));
    const out = [];
    for (let i = 0; i < count; i++) {
      await this.agent.rotate();
      const msg = this.agent.current();
      if (extra.length) msg.svids = msg.svids.map((s) => ({ ...s, bundle: Buffer.concat([s.bundle, extra]) }));
      out.push(msg);
    }
    return out;
  }

  /** Self-signed CA certificates (one key, distinct names and serials), made once and reused. */
  async extraCaDers(n) {
    if (this.extraCas.length < n) {
      const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
      const now = Date.now();
      while (this.extraCas.length < n) {
        const i = this.extraCas.length;
        const cert = await x509.X509CertificateGenerator.createSelfSigned({
          serialNumber: (0x1000 + i).toString(16),
          name: `CN=bench extra CA ${i}, O=bench`,
          notBefore: new Date(now - 60_000),
          notAfter: new Date(now + 365 * 86_400_000),
          keys,
          signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
          extensions: [
            new x509.BasicConstraintsExtension(true, undefined, true),
            new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
          ],
        });
        this.extraCas.push(Buffer.from(cert.rawData));
      }
    }
    return this.extraCas.slice(0, n);
  }

  close() {
    return this.agent.close();
  }
}

const serialize = (msg) => encode(Messages.X509SVIDResponse, msg);

/** The message's size on the wire (protobuf encoding, before gRPC framing). */
export function wireSize(msg) {
  return serialize(msg).length;
}

/** DER length of the first element of a concatenation of DER values. */
export function firstDerLength(der) {
  const b = der[1];
  if (b < 0x80) return 2 + b;
  const n = b & 0x7f;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + der[2 + i];
  return 2 + n + len;
}

/** What the default SVID's files must hold: the leaf (first PEM block of the SVID file) and the key. */
export function expectedFiles(msg) {
  const svid = msg.svids[0];
  const leaf = svid.x509_svid.subarray(0, firstDerLength(svid.x509_svid));
  return { leafB64: leaf.toString('base64'), keyB64: Buffer.from(svid.x509_svid_key).toString('base64') };
}
