/**
 * Attacks a hostile script could make on its host, each run as a real script
 * through the real bundle in a host process of its own (test/support/host.ts):
 * an unprivileged uid, fake AWS credentials in its environment, started through
 * the exec wrapper where the defence depends on it. Each attack script prints a
 * marker first, so a test also fails if the attack never ran.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { answerOf, httpApiEvent } from './support/events';
import { freshUid, shareTree, startHost, type Host } from './support/host';
import { freePort } from './support/offline';
import { cleanup, makeTree } from './support/site';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      ok(true);
    });
    sock.once('error', () => ok(false));
  });
}

async function eventually(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await sleep(50);
  }
}

function get(url: string, headers: Record<string, string> = {}) {
  const [path, query = ''] = url.split('?');
  return httpApiEvent({ path, query, headers });
}

async function body(host: Host, path: string, headers: Record<string, string> = {}): Promise<string> {
  const res = answerOf(await host.invoke(get(path, headers)));
  return res.body.toString('utf8');
}

describe('SIGUSR1 from a script does not open the inspector', () => {
  const KILL_USR1 = `#!/bin/sh
printf 'Content-Type: text/plain\\n\\n'
echo "attack ran"
kill -USR1 $PPID && echo "signal sent"
`;
  const PROBE = `#!/usr/bin/perl
use IO::Socket::INET;
print "Content-Type: text/plain\\n\\nprobe ran\\n";
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ENV{QUERY_STRING}, Proto => 'tcp', Timeout => 2);
print $s ? "inspector open\\n" : "inspector closed\\n";
`;
  let dir: string;
  let host: Host;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    const uid = freshUid();
    dir = makeTree({ 'cgi-bin/usr1.sh': KILL_USR1, 'cgi-bin/probe.pl': PROBE });
    shareTree(dir, uid);
    // --inspect-port only chooses where SIGUSR1 would open the inspector: a port of our own, not 9229.
    host = await startHost({ uid, env: { CGI_ROOT: `${dir}/cgi-bin` }, nodeArgs: [`--inspect-port=${port}`] });
  });
  afterAll(async () => {
    await host?.stop();
    cleanup(dir);
  });

  it('control: plain Node on this machine does open it on SIGUSR1', async () => {
    const controlPort = await freePort();
    const node = spawn(process.execPath, [`--inspect-port=${controlPort}`, '-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      await sleep(300);
      node.kill('SIGUSR1');
      expect(await eventually(() => listening(controlPort), 5000)).toBe(true);
    } finally {
      node.kill('SIGKILL');
    }
  });

  it('the script signals the host; nothing listens afterwards, for the test or for the next script', async () => {
    expect(await body(host, '/cgi-bin/usr1.sh')).toBe('attack ran\nsignal sent\n');
    await sleep(1000);
    expect(await listening(port)).toBe(false);
    expect(await body(host, `/cgi-bin/probe.pl?${port}`)).toBe('probe ran\ninspector closed\n');
    expect(host.stderr()).not.toMatch(/Debugger listening/);
  });
});
