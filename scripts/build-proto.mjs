#!/usr/bin/env node
// Build step (npm run build, after tsc): proto/workload.proto → dist/workload/workload.json, the
// JSON descriptor that dist/workload/proto.js loads with protobufjs' light build, so that the
// helper neither parses the .proto nor loads @grpc/proto-loader at start-up. The .proto stays
// the source of truth; the parse is the one src/workload/proto.ts falls back to without the JSON.
import { writeFileSync } from 'node:fs';
import { descriptorFromProto, descriptorPath } from '../dist/workload/proto.js';

writeFileSync(descriptorPath, JSON.stringify(descriptorFromProto()) + '\n');
