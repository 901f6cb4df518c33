// The program the helper wraps during the benchmarks (`cmd` + `renew_signal = "SIGHUP"`).
// It reports on stdout, which both helpers pass through to the harness: `ready <pid>` once
// started, then `hup` the moment each SIGHUP is delivered to it. The harness timestamps the
// line on arrival with the same clock it used when the agent sent the update.
const parent = process.ppid;
process.on('SIGHUP', () => process.stdout.write('hup\n'));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
process.stdout.write(`ready ${process.pid}\n`);
// Never outlive the helper (the Go helper leaves its child behind when it stops).
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 2000);
