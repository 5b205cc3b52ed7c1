// A Lambda-like host for the security tests, run as its own (unprivileged) Node
// process: loads the real bundle named by HOST_BUNDLE and answers events sent
// over the IPC channel. Plain JavaScript, so that it needs nothing but node.
'use strict';
const { execFileSync } = require('node:child_process');
const bundle = require(process.env.HOST_BUNDLE);
const { handler } = bundle;

process.on('message', async (msg) => {
  if (msg.kill !== undefined) {
    // For tests that need the host to send a signal to itself.
    process.kill(process.pid, msg.kill);
    return;
  }
  if (msg.daemons !== undefined) {
    // Two orphaned processes, as a worker helper would start: the first registered as long-lived.
    const start = () => Number(execFileSync('/bin/sh', ['-c', 'sleep 60 </dev/null >/dev/null 2>&1 & echo $!']).toString());
    const pids = [start(), start()];
    bundle.registerLongLived(pids[0]);
    process.send({ id: msg.id, result: pids });
    return;
  }
  try {
    const context = { awsRequestId: msg.id, getRemainingTimeInMillis: () => msg.remainingMs ?? 30000 };
    const result = await handler(msg.event, context);
    process.send({ id: msg.id, result });
  } catch (err) {
    process.send({ id: msg.id, error: String(err && err.stack || err) });
  }
});
process.send({ ready: true, pid: process.pid, uid: process.getuid() });
