/**
 * What validating one agent message costs on the rotation path (parse, key check, and since
 * issue 12 the chain verification): median and p95 of parseX509Context over many messages,
 * each with a fresh leaf as after a rotation, bundles unchanged (the BundleCache keeps them).
 *
 *   node --import tsx scripts/bench-validate.ts [SRC_DIR]
 *
 * SRC_DIR (default ./src) lets the same run measure an older tree, e.g. one extracted with
 * `git archive <commit> src | tar -x -C /tmp/before`. Prints figures; asserts nothing.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { issue } from '../test/helpers/certs.js';

const src = resolve(process.argv[2] ?? 'src');
const { parseX509Context } = await import(pathToFileURL(`${src}/workload/api.ts`).href);
const { BundleCache } = await import(pathToFileURL(`${src}/spiffe/bundle-cache.ts`).href);
const ID = 'spiffe://example.org/workload';
const ROUNDS = 300;

interface Shape {
  name: string;
  intermediate: boolean;
  federatedCas: number;
}
const shapes: Shape[] = [
  { name: 'leaf <- SPIRE CA (bundle: 1 root)', intermediate: false, federatedCas: 0 },
  { name: 'leaf <- SPIRE CA <- upstream root, + 1 federated CA', intermediate: true, federatedCas: 1 },
  { name: 'leaf <- SPIRE CA, + 1,000 federated CAs', intermediate: false, federatedCas: 1000 },
];

for (const shape of shapes) {
  const root = await issue({ ca: true, name: 'root', notAfter: new Date(Date.now() + 86_400_000) });
  const ca = shape.intermediate ? await issue({ ca: true, issuer: root, name: 'SPIRE CA' }) : root;
  const federated = Buffer.concat(await Promise.all(Array.from({ length: shape.federatedCas }, (_, i) => issue({ ca: true, name: `partner ${i}` }).then((c) => c.der))));
  // A new leaf for every message, as after a rotation: nothing about it can be cached.
  const leaves = await Promise.all(Array.from({ length: ROUNDS + 50 }, () => issue({ uris: [ID], issuer: ca })));
  const message = (i: number) => {
    const leaf = leaves[i % leaves.length]!;
    return {
      svids: [{ spiffe_id: ID, x509_svid: Buffer.concat([leaf.der, ...(shape.intermediate ? [ca.der] : [])]), x509_svid_key: leaf.keyDer, bundle: root.der, hint: '' }],
      crl: [],
      federated_bundles: shape.federatedCas ? { 'spiffe://partner.org': federated } : {},
    };
  };
  const cache = new BundleCache();
  for (let i = 0; i < 50; i++) parseX509Context(message(i), new Date(), cache); // warm-up
  const ms: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const msg = message(i);
    const t = performance.now();
    parseX509Context(msg, new Date(), cache);
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!.toFixed(3);
  console.log(`${shape.name}: median ${at(0.5)} ms, p95 ${at(0.95)} ms (${ROUNDS} messages, ${src})`);
}
