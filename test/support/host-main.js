// A Lambda-like host for the security tests, run as its own (unprivileged) Node
// process: loads the real bundle named by HOST_BUNDLE and answers events sent
// over the IPC channel. Plain JavaScript, so that it needs nothing but node.
'use strict';
const { handler } = require(process.env.HOST_BUNDLE);

process.on('message', async (msg) => {
  if (msg.kill !== undefined) {
    // For tests that need the host to send a signal to itself.
    process.kill(process.pid, msg.kill);
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
