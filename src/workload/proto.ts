import { loadPackageDefinition, type GrpcObject, type ServiceClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

/**
 * The Workload API definition, loaded from proto/workload.proto. The proto has no package
 * line, so the service's full name is `SpiffeWorkloadAPI` and method paths are
 * `/SpiffeWorkloadAPI/<Rpc>`, as SPIRE serves them.
 */
export const protoPath = fileURLToPath(new URL('../../proto/workload.proto', import.meta.url));

let cached: ServiceClientConstructor | undefined;

export function workloadService(): ServiceClientConstructor {
  if (!cached) {
    const def = loadSync(protoPath, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
    const pkg: GrpcObject = loadPackageDefinition(def);
    cached = pkg['SpiffeWorkloadAPI'] as ServiceClientConstructor;
  }
  return cached;
}

export function workloadServiceDefinition(): ServiceDefinition {
  return workloadService().service;
}

/** The messages as proto-loader decodes them (keepCase, defaults on). */
export interface X509SVIDMessage {
  spiffe_id: string;
  x509_svid: Buffer;
  x509_svid_key: Buffer;
  bundle: Buffer;
  hint: string;
}
export interface X509SVIDResponseMessage {
  svids: X509SVIDMessage[];
  crl: Buffer[];
  federated_bundles: Record<string, Buffer>;
}
export interface X509BundlesResponseMessage {
  crl: Buffer[];
  bundles: Record<string, Buffer>;
}
export interface JWTSVIDRequestMessage {
  audience: string[];
  spiffe_id: string;
}
export interface JWTSVIDMessage {
  spiffe_id: string;
  svid: string;
  hint: string;
}
export interface JWTSVIDResponseMessage {
  svids: JWTSVIDMessage[];
}
export interface JWTBundlesResponseMessage {
  bundles: Record<string, Buffer>;
}
export interface ValidateJWTSVIDRequestMessage {
  audience: string;
  svid: string;
}
