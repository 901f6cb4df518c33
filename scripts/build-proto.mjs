#!/usr/bin/env node
// Build step (npm run build, after tsc): checks that the message schemas the helper decodes with
// (src/workload/proto.ts, hand-written so that no protobuf library loads at run time) say what
// proto/workload.proto, the source of truth, says: every service method with its request and
// response types and stream kind, every field with its number, type, and repeated/map kind.
// protobufjs parses the .proto here only: it is a build and test tool, not a run-time one.
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const SCALARS = { string: 'string', bytes: 'bytes', double: 'double', bool: 'bool', NullValue: 'null-enum' };

/**
 * Every difference between the .proto and the schemas, as readable lines (none: they agree).
 * `schemas`: the proto module to check (default: the one tsc just built).
 */
export async function protoMismatches(schemas) {
  const protobuf = createRequire(import.meta.url)('protobufjs');
  const { Rpcs, SERVICE } = schemas ?? (await import(pathToFileURL(`${root}dist/workload/proto.js`).href));
  const proto = new protobuf.Root();
  proto.loadSync(`${root}proto/workload.proto`, { keepCase: true });
  proto.resolveAll();
  const service = proto.lookupService(SERVICE);
  const out = [];
  const seen = new Set();
  const compare = (type, schema) => {
    if (seen.has(schema)) return;
    seen.add(schema);
    const where = type.fullName.replace(/^\./, '');
    if (schema.name !== where) out.push(`${where}: the schema is named ${schema.name}`);
    const fields = type.fieldsArray;
    for (const f of fields) {
      const mine = schema.fields.find((x) => x.no === f.id);
      if (!mine) {
        out.push(`${where}.${f.name} (${f.id}) is missing from the schema`);
        continue;
      }
      const kind = (x) => `${x.name} ${x.repeated ? 'repeated ' : ''}${x.map ? 'map ' : ''}${x.oneof ?? ''}`;
      const theirs = { name: f.name, repeated: f.repeated || undefined, map: f.map || undefined, oneof: f.partOf?.name };
      if (kind(mine) !== kind(theirs)) out.push(`${where} field ${f.id}: .proto says "${kind(theirs)}", the schema "${kind(mine)}"`);
      if (f.resolvedType instanceof protobuf.Type) {
        if (typeof mine.type !== 'object') out.push(`${where}.${f.name}: .proto says message ${f.type}, the schema ${mine.type}`);
        else compare(f.resolvedType, mine.type);
      } else if (SCALARS[f.type] !== mine.type) out.push(`${where}.${f.name}: .proto says ${f.type}, the schema ${mine.type?.name ?? mine.type}`);
    }
    for (const x of schema.fields) if (!fields.some((f) => f.id === x.no)) out.push(`${where}: the schema has field ${x.no} (${x.name}) that the .proto does not`);
  };
  for (const m of service.methodsArray) {
    const mine = Rpcs[m.name];
    if (!mine) {
      out.push(`rpc ${m.name} is missing from Rpcs`);
      continue;
    }
    if (Boolean(m.responseStream) !== mine.stream || m.requestStream) out.push(`rpc ${m.name}: stream kinds differ`);
    compare(m.resolvedRequestType, mine.request);
    compare(m.resolvedResponseType, mine.response);
  }
  for (const name of Object.keys(Rpcs)) if (!service.methods[name]) out.push(`Rpcs has ${name}, which the .proto does not`);
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const problems = await protoMismatches();
  if (problems.length > 0) {
    console.error(`src/workload/proto.ts disagrees with proto/workload.proto:\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
}
