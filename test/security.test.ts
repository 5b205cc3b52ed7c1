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
import { FAKE_CREDENTIALS, freshUid, shareTree, startHost, type Host } from './support/host';
import { freePort } from './support/offline';
import { jsonLines } from './support/processes';
import { cleanup, harness, makeTree, parseEnv0, PRINTENV_SH } from './support/site';

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

describe('runtime secrets never reach a script, whatever CGI_PASS_ENV and CGI_ENV_ say', () => {
  const LAMBDA_ENV: Record<string, string> = {
    ...FAKE_CREDENTIALS,
    AWS_CONTAINER_AUTHORIZATION_TOKEN: 'fake-container-token',
    AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.2/v2/credentials/fake',
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/fake',
    AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001',
    AWS_LAMBDA_EXEC_WRAPPER: '/opt/lambda-cgi/exec-wrapper',
    _LAMBDA_TELEMETRY_LOG_FD: '62',
    _LAMBDA_CONTROL_SOCKET: '60',
    _AWS_XRAY_DAEMON_ADDRESS: '169.254.79.129',
    _HANDLER: 'dist/handler.handler',
    _X_AMZN_TRACE_ID: 'Root=1-fake',
    LD_PRELOAD: '/opt/lambda-cgi/lambda-cgi-nodump.so',
    AWS_REGION: 'us-east-1',
    DB_HOST: 'db.internal',
  };
  const DENIED = Object.keys(LAMBDA_ENV).filter((n) => n !== 'AWS_REGION' && n !== 'DB_HOST');
  let dir: string;
  beforeAll(() => {
    dir = makeTree({ 'cgi-bin/env.sh': PRINTENV_SH });
  });
  afterAll(() => cleanup(dir));

  it('CGI_PASS_ENV naming every one of them passes none; each refusal is logged once, at start', async () => {
    const h = harness({ ...LAMBDA_ENV, CGI_ROOT: `${dir}/cgi-bin`, CGI_PASS_ENV: [...DENIED, 'AWS_REGION', 'DB_HOST'].join(',') });
    const env = parseEnv0(answerOf(await h.invoke(get('/cgi-bin/env.sh'))).body);
    expect(env.DB_HOST).toBe('db.internal');
    expect(env.AWS_REGION).toBe('us-east-1');
    expect(env.GATEWAY_INTERFACE).toBe('CGI/1.1');
    for (const name of DENIED) expect({ name, value: env[name] }).toEqual({ name, value: undefined });
    const warnings = jsonLines(h.err).filter((l) => l.level === 'warn').map((l) => l.message as string);
    for (const name of DENIED) {
      expect(warnings.filter((m) => m.startsWith(`CGI_PASS_ENV asks for ${name},`))).toHaveLength(1);
    }
    h.clearLogs();
    await h.invoke(get('/cgi-bin/env.sh'));
    expect(jsonLines(h.err).filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('CGI_ENV_<NAME> cannot set them either (LD_PRELOAD, the Runtime API, the credentials)', async () => {
    const h = harness({
      CGI_ROOT: `${dir}/cgi-bin`, CGI_ENV_LD_PRELOAD: '/tmp/evil.so', CGI_ENV_AWS_LAMBDA_RUNTIME_API: '127.0.0.1:1',
      CGI_ENV_AWS_SESSION_TOKEN: 'x', CGI_ENV_SITE: 'acme',
    });
    const env = parseEnv0(answerOf(await h.invoke(get('/cgi-bin/env.sh'))).body);
    expect(env.SITE).toBe('acme');
    expect([env.LD_PRELOAD, env.AWS_LAMBDA_RUNTIME_API, env.AWS_SESSION_TOKEN]).toEqual([undefined, undefined, undefined]);
    const warnings = jsonLines(h.err).filter((l) => l.level === 'warn').map((l) => l.message as string);
    expect(warnings.some((m) => m.startsWith('CGI_ENV_LD_PRELOAD asks for LD_PRELOAD,'))).toBe(true);
    expect(warnings.some((m) => m.startsWith('CGI_ENV_AWS_LAMBDA_RUNTIME_API asks for AWS_LAMBDA_RUNTIME_API,'))).toBe(true);
  });

  it('CGI_KEEP_AWS_CREDENTIALS=on hands the role credentials to scripts, and nothing else on the list', async () => {
    const h = harness({ ...LAMBDA_ENV, CGI_ROOT: `${dir}/cgi-bin`, CGI_KEEP_AWS_CREDENTIALS: 'on' });
    const env = parseEnv0(answerOf(await h.invoke(get('/cgi-bin/env.sh'))).body);
    expect(env.AWS_ACCESS_KEY_ID).toBe(FAKE_CREDENTIALS.AWS_ACCESS_KEY_ID);
    expect(env.AWS_SECRET_ACCESS_KEY).toBe(FAKE_CREDENTIALS.AWS_SECRET_ACCESS_KEY);
    expect(env.AWS_SESSION_TOKEN).toBe(FAKE_CREDENTIALS.AWS_SESSION_TOKEN);
    expect(env.AWS_CONTAINER_AUTHORIZATION_TOKEN).toBeUndefined();
    expect(env.AWS_LAMBDA_RUNTIME_API).toBeUndefined();
  });
});
