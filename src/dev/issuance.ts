import { HelperError } from '../errors.js';
import type { Logger } from '../log.js';
import { SpiffeId, TrustDomain } from '../spiffe/id.js';
import type { X509SVIDMessage, X509SVIDResponseMessage } from '../workload/proto.js';
import { DevCa, type KeyType } from './ca.js';
import type { JwtAlg, JwtIssuer } from './jwt-issuer.js';

/**
 * What the dev agent issues and trusts: the identities and federation a test asked for, the
 * CAs (one per trust domain), and the Workload API messages built from them. What is asked
 * takes effect at the next rotation.
 */
export interface DevIdentity {
  spiffeId: string;
  hint?: string;
}

/** What pushX509 may send: anything the wire format can carry, valid or not. */
export interface RawX509SVIDResponse {
  svids?: Partial<X509SVIDMessage>[];
  crl?: Buffer[];
  federated_bundles?: Record<string, Buffer>;
}

export interface Settings {
  trustDomain: TrustDomain;
  svidTtlSeconds: number;
  jwtTtlSeconds: number;
  keyType: KeyType | undefined;
  intermediate: boolean;
  jwtAlg: JwtAlg | undefined;
  log: Logger;
}

export interface Identity {
  id: SpiffeId;
  hint: string;
}

export interface Membership {
  identities: Identity[];
  federated: TrustDomain[];
}

/** What a rotation issued, to be made current once nothing stops it. */
export interface Issued {
  membership: Membership;
  /** Undefined when no identity is asked for. */
  x509: RawX509SVIDResponse | undefined;
}

export class Issuance {
  private readonly cas = new Map<string, DevCa>();
  /** What setIdentities/setFederatedTrustDomains asked for; rotation makes it `active`. */
  private wanted: Membership = { identities: [], federated: [] };
  private active: Membership = { identities: [], federated: [] };

  constructor(private readonly settings: Settings) {}

  setIdentities(identities: DevIdentity[]): void {
    this.wanted = { ...this.wanted, identities: identities.map((identity) => this.parseIdentity(identity)) };
  }

  setFederatedTrustDomains(trustDomains: string[]): void {
    const federated = trustDomains.map((name) => {
      const td = TrustDomain.parse(name);
      if (td.name === this.settings.trustDomain.name) {
        throw new HelperError('usage', `"${td.name}" is the agent's own trust domain: it cannot also be federated`);
      }
      return td;
    });
    this.wanted = { ...this.wanted, federated };
  }

  /** Issues X.509-SVIDs for what was asked; nothing changes until `activate`. */
  async issue(): Promise<Issued> {
    const next = this.wanted;
    await Promise.all([this.settings.trustDomain, ...next.federated].map((td) => this.caFor(td)));
    const x509 = next.identities.length === 0 ? undefined : await this.issueX509(next);
    return { membership: next, x509 };
  }

  activate(membership: Membership): void {
    this.active = membership;
  }

  get identities(): readonly Identity[] {
    return this.active.identities;
  }

  x509Bundles(): object {
    return { crl: [], bundles: this.bundleMap(this.trustedDomains(), (ca) => ca.bundleDer) };
  }

  jwtBundles(): object {
    return { bundles: this.bundleMap(this.trustedDomains(), (ca) => Buffer.from(JSON.stringify(ca.jwks()))) };
  }

  /** JWT-SVIDs are signed on request, as SPIRE does, never cached. */
  async signJwtSvids(identities: readonly Identity[], audience: string[]): Promise<{ spiffe_id: string; svid: string; hint: string }[]> {
    const ca = await this.caFor(this.settings.trustDomain);
    return Promise.all(
      identities.map(async ({ id, hint }) => ({
        spiffe_id: id.toString(),
        svid: await ca.signJwtSvid({ spiffeId: id, audience, ttlSeconds: this.settings.jwtTtlSeconds }),
        hint,
      })),
    );
  }

  /** The key that checks tokens of `trustDomain`, while that domain is trusted. */
  jwtIssuerFor(trustDomain: string): JwtIssuer | undefined {
    const trusted = new Set(this.trustedDomains().map((td) => td.name));
    return trusted.has(trustDomain) ? this.cas.get(trustDomain)?.jwtIssuer : undefined;
  }

  private parseIdentity(identity: DevIdentity): Identity {
    const id = SpiffeId.parse(identity.spiffeId);
    if (id.trustDomain.name !== this.settings.trustDomain.name || !id.hasPath) {
      throw new HelperError('usage', `dev agent identity ${id} must be a workload ID in its trust domain "${this.settings.trustDomain.name}" (spiffe://${this.settings.trustDomain.name}/<path>)`);
    }
    return { id, hint: identity.hint ?? '' };
  }

  private async issueX509(next: Membership): Promise<RawX509SVIDResponse> {
    const ca = await this.caFor(this.settings.trustDomain);
    const svids = await Promise.all(
      next.identities.map(async ({ id, hint }) => {
        const svid = await ca.issueX509Svid({ spiffeId: id, ttlSeconds: this.settings.svidTtlSeconds });
        this.settings.log.info('dev agent issued X.509-SVID', {
          spiffe_id: id.toString(),
          serial: svid.serial,
          not_after: svid.notAfter.toISOString(),
        });
        return { spiffe_id: id.toString(), x509_svid: svid.chainDer, x509_svid_key: svid.keyDer, bundle: svid.bundleDer, hint };
      }),
    );
    return { svids, crl: [], federated_bundles: this.bundleMap(next.federated, (ca) => ca.bundleDer) };
  }

  private trustedDomains(): TrustDomain[] {
    return [this.settings.trustDomain, ...this.active.federated];
  }

  private bundleMap(domains: TrustDomain[], bundle: (ca: DevCa) => Buffer): Record<string, Buffer> {
    return Object.fromEntries(domains.map((td) => [td.id, bundle(this.cas.get(td.name)!)]));
  }

  /** CAs outlive their place in the federation so that a re-added domain keeps its roots. */
  private async caFor(trustDomain: TrustDomain): Promise<DevCa> {
    let ca = this.cas.get(trustDomain.name);
    if (!ca) {
      const { keyType, intermediate, jwtAlg } = this.settings;
      ca = await DevCa.create({ trustDomain, keyType, intermediate, jwtAlg });
      this.cas.set(trustDomain.name, ca);
    }
    return ca;
  }
}

/** Fills in proto3 defaults, so tests see exactly what a client decodes. */
export function asDecoded(raw: RawX509SVIDResponse): X509SVIDResponseMessage {
  const empty = Buffer.alloc(0);
  return {
    svids: (raw.svids ?? []).map((s) => ({ spiffe_id: '', x509_svid: empty, x509_svid_key: empty, bundle: empty, hint: '', ...s })),
    crl: raw.crl ?? [],
    federated_bundles: raw.federated_bundles ?? {},
  };
}
