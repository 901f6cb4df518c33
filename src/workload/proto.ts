/**
 * The Workload API messages (proto/workload.proto, the source of truth) as small schemas read
 * by one decoder and one encoder, with no protobuf library at run time. Messages decode into
 * the object form @grpc/proto-loader gave (snake_case names, defaults filled in, bytes as
 * Buffer, maps as plain objects, google.protobuf.Value's oneof named in `kind`, enums as
 * names), so the rest of the code reads the same fields as before.
 *
 * The proto has no package line: the service is `SpiffeWorkloadAPI` and method paths are
 * `/SpiffeWorkloadAPI/<Rpc>`, as SPIRE serves them.
 */
import { LIMITS } from '../spiffe/limits.js';
import { expectWire, ProtoError, Reader, WireType, Writer, type Tag } from './wire.js';

type Scalar = 'string' | 'bytes' | 'double' | 'bool' | 'null-enum';
interface Field {
  no: number;
  name: string;
  type: Scalar | Schema<object>;
  repeated?: true;
  /** map<string, type>: decoded into a plain object keyed by the entry's key. */
  map?: true;
  /** The oneof this field belongs to: decoded as `{ [name]: value, [oneof]: name }`, others absent. */
  oneof?: string;
}
export interface Schema<T> {
  name: string;
  fields: Field[];
  /** Only carries T for decode()/encode(). */
  readonly type?: T;
}

function schema<T>(name: string, fields: Field[]): Schema<T> {
  return { name, fields };
}

/** The messages as proto-loader decoded them (keepCase, defaults on). */
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
/** google.protobuf.Value: one of the members, named in `kind` (absent when none is set). */
export interface ValueMessage {
  kind?: 'nullValue' | 'numberValue' | 'stringValue' | 'boolValue' | 'structValue' | 'listValue';
  nullValue?: 'NULL_VALUE' | number;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: StructMessage;
  listValue?: { values: ValueMessage[] };
}
export interface StructMessage {
  fields: Record<string, ValueMessage>;
}
export interface ValidateJWTSVIDResponseMessage {
  spiffe_id: string;
  claims: StructMessage | null;
}
export type EmptyMessage = Record<string, never>;

const X509SVID = schema<X509SVIDMessage>('X509SVID', [
  { no: 1, name: 'spiffe_id', type: 'string' },
  { no: 2, name: 'x509_svid', type: 'bytes' },
  { no: 3, name: 'x509_svid_key', type: 'bytes' },
  { no: 4, name: 'bundle', type: 'bytes' },
  { no: 5, name: 'hint', type: 'string' },
]);
const JWTSVID = schema<JWTSVIDMessage>('JWTSVID', [
  { no: 1, name: 'spiffe_id', type: 'string' },
  { no: 2, name: 'svid', type: 'string' },
  { no: 3, name: 'hint', type: 'string' },
]);
const Struct = schema<StructMessage>('google.protobuf.Struct', []);
const ListValue = schema<{ values: ValueMessage[] }>('google.protobuf.ListValue', []);
const Value = schema<ValueMessage>('google.protobuf.Value', [
  { no: 1, name: 'nullValue', type: 'null-enum', oneof: 'kind' },
  { no: 2, name: 'numberValue', type: 'double', oneof: 'kind' },
  { no: 3, name: 'stringValue', type: 'string', oneof: 'kind' },
  { no: 4, name: 'boolValue', type: 'bool', oneof: 'kind' },
  { no: 5, name: 'structValue', type: Struct, oneof: 'kind' },
  { no: 6, name: 'listValue', type: ListValue, oneof: 'kind' },
]);
// Struct and ListValue contain Value, which contains them.
Struct.fields.push({ no: 1, name: 'fields', type: Value, map: true });
ListValue.fields.push({ no: 1, name: 'values', type: Value, repeated: true });

export const Messages = {
  X509SVIDRequest: schema<EmptyMessage>('X509SVIDRequest', []),
  X509SVIDResponse: schema<X509SVIDResponseMessage>('X509SVIDResponse', [
    { no: 1, name: 'svids', type: X509SVID, repeated: true },
    { no: 2, name: 'crl', type: 'bytes', repeated: true },
    { no: 3, name: 'federated_bundles', type: 'bytes', map: true },
  ]),
  X509BundlesRequest: schema<EmptyMessage>('X509BundlesRequest', []),
  X509BundlesResponse: schema<X509BundlesResponseMessage>('X509BundlesResponse', [
    { no: 1, name: 'crl', type: 'bytes', repeated: true },
    { no: 2, name: 'bundles', type: 'bytes', map: true },
  ]),
  JWTSVIDRequest: schema<JWTSVIDRequestMessage>('JWTSVIDRequest', [
    { no: 1, name: 'audience', type: 'string', repeated: true },
    { no: 2, name: 'spiffe_id', type: 'string' },
  ]),
  JWTSVIDResponse: schema<JWTSVIDResponseMessage>('JWTSVIDResponse', [{ no: 1, name: 'svids', type: JWTSVID, repeated: true }]),
  JWTBundlesRequest: schema<EmptyMessage>('JWTBundlesRequest', []),
  JWTBundlesResponse: schema<JWTBundlesResponseMessage>('JWTBundlesResponse', [{ no: 1, name: 'bundles', type: 'bytes', map: true }]),
  ValidateJWTSVIDRequest: schema<ValidateJWTSVIDRequestMessage>('ValidateJWTSVIDRequest', [
    { no: 1, name: 'audience', type: 'string' },
    { no: 2, name: 'svid', type: 'string' },
  ]),
  ValidateJWTSVIDResponse: schema<ValidateJWTSVIDResponseMessage>('ValidateJWTSVIDResponse', [
    { no: 1, name: 'spiffe_id', type: 'string' },
    { no: 2, name: 'claims', type: Struct },
  ]),
};

export const SERVICE = 'SpiffeWorkloadAPI';
export type RpcName = 'FetchX509SVID' | 'FetchX509Bundles' | 'FetchJWTSVID' | 'FetchJWTBundles' | 'ValidateJWTSVID';
export interface RpcSchemas {
  request: Schema<object>;
  response: Schema<object>;
  /** The response is a stream (the request never is). */
  stream: boolean;
}

/** Every RPC of the service: request and response messages, and whether the response streams. */
export const Rpcs = {
  FetchX509SVID: { request: Messages.X509SVIDRequest, response: Messages.X509SVIDResponse, stream: true },
  FetchX509Bundles: { request: Messages.X509BundlesRequest, response: Messages.X509BundlesResponse, stream: true },
  FetchJWTSVID: { request: Messages.JWTSVIDRequest, response: Messages.JWTSVIDResponse, stream: false },
  FetchJWTBundles: { request: Messages.JWTBundlesRequest, response: Messages.JWTBundlesResponse, stream: true },
  ValidateJWTSVID: { request: Messages.ValidateJWTSVIDRequest, response: Messages.ValidateJWTSVIDResponse, stream: false },
} as const satisfies Record<RpcName, RpcSchemas>;

/** The RPCs whose response is a stream, and the others (unary). */
export type StreamRpc = { [R in RpcName]: (typeof Rpcs)[R]['stream'] extends true ? R : never }[RpcName];
export type UnaryRpc = Exclude<RpcName, StreamRpc>;
/** The message types an RPC takes and returns, read off its schemas. */
export type RequestOf<R extends RpcName> = (typeof Rpcs)[R]['request'] extends Schema<infer T> ? T : never;
export type ResponseOf<R extends RpcName> = (typeof Rpcs)[R]['response'] extends Schema<infer T> ? T : never;

export function methodPath(rpc: RpcName): string {
  return `/${SERVICE}/${rpc}`;
}

/** google.protobuf.Struct can nest without end; protobuf implementations stop at 100 levels. */
const MAX_DEPTH = 100;

/** A message of more fields than LIMITS.messageFields: refused as too large, not as malformed. */
export class TooManyFields extends ProtoError {}

/** Fields the message being decoded may still hold (LIMITS.messageFields in all). */
interface Budget {
  fields: number;
}

/**
 * Decodes one message; throws ProtoError naming the message, field and byte on malformed input,
 * TooManyFields (naming the message) past LIMITS.messageFields.
 */
export function decode<T>(s: Schema<T>, bytes: Buffer): T {
  try {
    return decodeAt(s as Schema<object>, new Reader(bytes), 0, { fields: LIMITS.messageFields }) as T;
  } catch (e) {
    if (e instanceof TooManyFields) throw new TooManyFields(`a message of more than ${LIMITS.messageFields} fields (${s.name})`);
    if (e instanceof ProtoError) throw new ProtoError(`malformed ${s.name}: ${e.message}`);
    throw e;
  }
}

/** The next field's tag, counted against the budget before anything of it is decoded. */
function nextTag(r: Reader, budget: Budget): Tag {
  if (--budget.fields < 0) throw new TooManyFields('');
  return r.tag();
}

function decodeAt(s: Schema<object>, r: Reader, depth: number, budget: Budget): object {
  if (depth > MAX_DEPTH) throw new ProtoError(`messages nested deeper than ${MAX_DEPTH}`);
  const out = defaults(s);
  while (!r.done) {
    const tag = nextTag(r, budget);
    const f = s.fields.find((x) => x.no === tag.field);
    if (!f) {
      r.skip(tag);
      continue;
    }
    const where = `${s.name}.${f.name}`;
    if (f.map) {
      expectWire(tag, WireType.len, where);
      const [key, value] = mapEntry(f, r.message(), depth, where, budget);
      // A key such as "__proto__" must stay a key, not become the object's prototype.
      Object.defineProperty(out[f.name], key, { value, enumerable: true, writable: true, configurable: true });
    } else if (f.repeated) {
      (out[f.name] as unknown[]).push(readValue(f.type, tag, r, depth, where, budget));
    } else {
      if (f.oneof) {
        for (const other of s.fields) if (other.oneof === f.oneof) delete out[other.name];
        out[f.oneof] = f.name;
      }
      out[f.name] = readValue(f.type, tag, r, depth, where, budget);
    }
  }
  return out;
}

function defaults(s: Schema<object>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of s.fields) {
    if (f.oneof) continue;
    if (f.map) out[f.name] = {};
    else if (f.repeated) out[f.name] = [];
    else if (f.type === 'string') out[f.name] = '';
    else if (f.type === 'bytes') out[f.name] = Buffer.alloc(0);
    else if (typeof f.type === 'object') out[f.name] = null;
  }
  return out;
}

function mapEntry(f: Field, r: Reader, depth: number, where: string, budget: Budget): [string, unknown] {
  let key = '';
  let value: unknown;
  while (!r.done) {
    const tag = nextTag(r, budget);
    if (tag.field === 1) {
      expectWire(tag, WireType.len, `${where} key`);
      key = r.string();
    } else if (tag.field === 2) {
      value = readValue(f.type, tag, r, depth, `${where} value`, budget);
    } else r.skip(tag);
  }
  if (value === undefined) value = f.type === 'bytes' ? Buffer.alloc(0) : f.type === 'string' ? '' : defaults(f.type as Schema<object>);
  return [key, value];
}

function readValue(type: Field['type'], tag: Tag, r: Reader, depth: number, where: string, budget: Budget): unknown {
  switch (type) {
    case 'string':
      expectWire(tag, WireType.len, where);
      return r.string();
    case 'bytes':
      expectWire(tag, WireType.len, where);
      return r.bytes();
    case 'double':
      expectWire(tag, WireType.fixed64, where);
      return r.double();
    case 'bool':
      expectWire(tag, WireType.varint, where);
      return r.varint() !== 0;
    case 'null-enum': {
      expectWire(tag, WireType.varint, where);
      const n = r.varint();
      return n === 0 ? 'NULL_VALUE' : n;
    }
    default:
      expectWire(tag, WireType.len, where);
      return decodeAt(type, r.message(), depth + 1, budget);
  }
}

/** Encodes a message from its object form; absent fields and proto3 defaults are left out. */
export function encode<T>(s: Schema<T>, value: T): Buffer {
  return encodeAt(s as Schema<object>, value as Record<string, unknown>);
}

function encodeAt(s: Schema<object>, value: Record<string, unknown>): Buffer {
  const w = new Writer();
  for (const f of s.fields) {
    const v = value[f.name];
    if (v === undefined || v === null) continue;
    if (f.map) {
      for (const [key, item] of Object.entries(v as Record<string, unknown>)) {
        const entry = new Writer().stringField(1, key, true);
        writeValue(entry, 2, f.type, item, true);
        w.bytesField(f.no, entry.finish(), true);
      }
    } else if (f.repeated) {
      for (const item of v as unknown[]) writeValue(w, f.no, f.type, item, true);
    } else {
      // A oneof member is written even when it holds its default: it says which member is set.
      writeValue(w, f.no, f.type, v, f.oneof !== undefined);
    }
  }
  return w.finish();
}

function writeValue(w: Writer, no: number, type: Field['type'], v: unknown, keepDefault: boolean): void {
  switch (type) {
    case 'string':
      w.stringField(no, v as string, keepDefault);
      return;
    case 'bytes':
      w.bytesField(no, v as Uint8Array, keepDefault);
      return;
    case 'double':
      if (keepDefault || v !== 0) w.doubleField(no, v as number);
      return;
    case 'bool':
      if (keepDefault || v) w.varintField(no, v ? 1 : 0, keepDefault);
      return;
    case 'null-enum':
      w.varintField(no, typeof v === 'number' ? v : 0, keepDefault);
      return;
    default:
      w.bytesField(no, encodeAt(type, v as Record<string, unknown>), true);
  }
}
