import { makeGenericClientConstructor, type ServiceClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { decode, encode, methodPath, Rpcs, SERVICE, type RpcName, type RpcSchemas, type Schema } from '../workload/proto.js';

/**
 * The Workload API as a @grpc/grpc-js service, for the development agent (a server library is
 * fine there: it loads only for `dev-agent`) and for tests that play a raw agent or client.
 * Messages go through the helper's own codec, so both sides speak the same object form.
 */
export function workloadServiceDefinition(): ServiceDefinition {
  const def: Record<string, ServiceDefinition[string]> = {};
  for (const rpc of Object.keys(Rpcs) as RpcName[]) {
    const { request, response, stream }: RpcSchemas = Rpcs[rpc];
    def[rpc] = {
      path: methodPath(rpc),
      requestStream: false,
      responseStream: stream,
      requestSerialize: serializer(request),
      requestDeserialize: (bytes: Buffer) => decode(request, bytes),
      responseSerialize: serializer(response),
      responseDeserialize: (bytes: Buffer) => decode(response, bytes),
    };
  }
  return def as ServiceDefinition;
}

function serializer(s: Schema<object>): (value: object) => Buffer {
  return (value) => encode(s, value);
}

let cached: ServiceClientConstructor | undefined;

/** A grpc-js client class for the service (tests probe agents with it). */
export function workloadService(): ServiceClientConstructor {
  cached ??= makeGenericClientConstructor(workloadServiceDefinition(), SERVICE);
  return cached;
}
