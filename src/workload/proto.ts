import { makeGenericClientConstructor, type ServiceClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs/light.js';

/**
 * The Workload API definition. proto/workload.proto is the source of truth; `npm run build`
 * turns it into a JSON descriptor, dist/workload/workload.json (scripts/build-proto.mjs),
 * loaded here with protobufjs' light build: no .proto parser and no @grpc/proto-loader at run
 * time, which saves ~35 ms of start-up (docs/BENCHMARKS.md). Without the JSON (running from
 * src/ under tsx) the .proto is parsed instead, with the same result.
 *
 * The proto has no package line, so the service's full name is `SpiffeWorkloadAPI` and method
 * paths are `/SpiffeWorkloadAPI/<Rpc>`, as SPIRE serves them. Messages decode as
 * @grpc/proto-loader decoded them (keepCase, defaults, bytes as Buffer, enums as names).
 */
export const protoPath = fileURLToPath(new URL('../../proto/workload.proto', import.meta.url));
export const descriptorPath = fileURLToPath(new URL('./workload.json', import.meta.url));

const SERVICE = 'SpiffeWorkloadAPI';
const toObjectOptions: protobuf.IConversionOptions = { longs: String, enums: String, defaults: true, oneofs: true };

/** Parses proto/workload.proto (with the full protobufjs, loaded only here) into a JSON descriptor. */
export function descriptorFromProto(): protobuf.INamespace {
  const full = createRequire(import.meta.url)('protobufjs') as typeof protobuf;
  const root = new full.Root();
  root.loadSync(protoPath, { keepCase: true });
  root.resolveAll();
  return root.toJSON();
}

function loadDescriptor(): protobuf.INamespace {
  let text: string;
  try {
    text = readFileSync(descriptorPath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return descriptorFromProto();
    throw e;
  }
  return JSON.parse(text) as protobuf.INamespace;
}

/** What @grpc/proto-loader builds for each method, from the descriptor. */
function serviceDefinition(descriptor: protobuf.INamespace): ServiceDefinition {
  const root = protobuf.Root.fromJSON(descriptor);
  const service = root.lookupService(SERVICE);
  service.resolveAll();
  const def: Record<string, ServiceDefinition[string]> = {};
  for (const method of service.methodsArray) {
    const req = method.resolvedRequestType!;
    const res = method.resolvedResponseType!;
    def[method.name] = {
      path: `/${SERVICE}/${method.name}`,
      requestStream: Boolean(method.requestStream),
      responseStream: Boolean(method.responseStream),
      requestSerialize: serializer(req),
      requestDeserialize: deserializer(req),
      responseSerialize: serializer(res),
      responseDeserialize: deserializer(res),
    };
  }
  return def as ServiceDefinition;
}

function serializer(type: protobuf.Type): (value: object) => Buffer {
  return (value) => {
    if (Array.isArray(value)) throw new Error(`Failed to serialize message: expected object with ${type.name} structure, got array instead`);
    // In Node, protobufjs writes into a Buffer already: no copy.
    return type.encode(type.fromObject(value)).finish() as Buffer;
  };
}

function deserializer(type: protobuf.Type): (bytes: Buffer) => object {
  return (bytes) => type.toObject(type.decode(bytes), toObjectOptions);
}

let cached: ServiceClientConstructor | undefined;

export function workloadService(): ServiceClientConstructor {
  cached ??= makeGenericClientConstructor(serviceDefinition(loadDescriptor()), SERVICE);
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
