/**
 * Bounds on what the agent may send, so that no message can hold the event loop for long
 * (a 30 MB chain of 100,000 intermediates once blocked it 6.3 s and left RSS at 435 MB).
 * Each is far above what SPIRE sends; going over it refuses the message with reason
 * `too_large` before the excess is parsed. The overall message size is bounded by the
 * transport (32 MiB): a streamed message over it is refused as `too_large` too, its bytes
 * dropped as they arrive, and the stream goes on. Costs are per certificate parsed (tens of µs) and per signature checked
 * (~0.1 ms); unchanged bundles are not parsed again (bundle-cache.ts).
 */
export const LIMITS = {
  /** Leaf plus intermediates: SPIRE sends 1 to 3 (leaf, its CA, upstream intermediates). */
  chainCertificates: 32,
  /** SVIDs in one X.509 message: one per registration entry that matches the workload. */
  svids: 256,
  /** CAs in one trust domain's X.509 bundle: keeps 1,000-CA bundles working. */
  bundleCertificates: 4096,
  /** Federated trust domains in one message. */
  federatedBundles: 1024,
  /** CAs over all bundles of one message: parsing 8,192 costs ~0.2 s (then cached while unchanged). */
  messageBundleCertificates: 8192,
  /**
   * DER elements read in one X.509 message (der.ts withElementBudget): a CA takes ~40, so the
   * maxima above together (8,192 CAs, 8,192 chain certificates) stay under it; reading this
   * many costs ~1 s at worst (names: ~1 µs each).
   */
  messageDerElements: 1_000_000,
  /**
   * Comparisons of the leaf's names with the name constraints of one path (chain.ts): Go's bound
   * until 1.25 (its maxConstraintComparisons). Each costs ~0.1 µs, so a path costs at most ~25 ms;
   * without it, a 0.8 MB message (20,000 names under 20,000 constraints) held the event loop 41 s.
   */
  nameConstraintComparisons: 250_000,
  /**
   * Protobuf fields read in one Workload API message, nested and unknown ones included: a field
   * costs 2 bytes on the wire but up to ~4 µs and ~0.5 KB to decode, so the size limit alone let
   * a 2 MB message block for seconds (1,000,000 empty SVIDs: 3.6 s, +477 MB RSS; 10,000,000:
   * out of memory). The maxima above take ~4,400 (256 SVIDs of 5 fields, 1,025 bundles of 3);
   * reading this many costs 10-90 ms at worst.
   */
  messageFields: 16_384,
  /** Keys in one trust domain's JWT bundle. */
  jwtBundleKeys: 4096,
  /**
   * Signature checks for one token without a kid, in RSA-2048 checks (~30 µs each; a 16384-bit
   * key counts 64): every key of the trust domain would be tried, ~5 s for 4,096 16384-bit keys.
   */
  kidlessVerifyWork: 1024,
} as const;
