#!/usr/bin/env node
import { main } from './cli/main.js';
import { SignalHub } from './notify/signals.js';

const signals = new SignalHub().install();
process.exitCode = await main(process.argv.slice(2), signals);
// A stopped command may leave a read behind that would keep the process alive (a FIFO, stdin).
if (signals.stoppedBy) process.exit();
