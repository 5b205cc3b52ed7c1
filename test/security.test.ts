/**
 * Attacks a hostile script could make on its host, each run as a real script
 * through the real bundle in a host process of its own (test/support/host.ts):
 * an unprivileged uid, fake AWS credentials in its environment, started through
 * the exec wrapper where the defence depends on it. Each attack script prints a
 * marker first, so a test also fails if the attack never ran.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { answerOf, httpApiEvent } from './support/events';
import { FAKE_CREDENTIALS, freshUid, shareTree, startHost, WRAPPER, type Host } from './support/host';
import { freePort } from './support/offline';
import { jsonLines } from './support/processes';
import { cleanup, compileC, harness, makeTree, parseEnv0, PRINTENV_SH } from './support/site';

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

const READ_PARENT_ENVIRON = `#!/bin/sh
printf 'Content-Type: text/plain\\n\\nattack ran\\n'
if tr '\\0' '\\n' < /proc/$PPID/environ 2>/dev/null; then echo "environ read"; else echo "environ denied"; fi
`;
// Looks for the host's credentials in every environ it can open, its own excepted.
const SCAN_ENVIRONS = `#!/bin/sh
printf 'Content-Type: text/plain\\n\\nattack ran\\n'
n=0; opened=0
for f in /proc/[0-9]*/environ; do
  case "$f" in /proc/$$/*) continue ;; esac
  if tr '\\0' '\\n' < "$f" > env.$$ 2>/dev/null; then
    opened=$((opened + 1))
    grep -q '^AWS_SECRET_ACCESS_KEY=' env.$$ && n=$((n + 1))
  fi
done
rm -f env.$$
echo "opened $opened, with keys $n"
`;
// The pattern is assembled at run time, so that reading this file cannot plant it in the host.
const READ_PARENT_MEMORY = `#!/usr/bin/perl
use strict;
print "Content-Type: text/plain\\n\\nattack ran\\n";
my $ppid = getppid();
my @want = (join('', 'SECRET', 'COOKIE'), join('', 'fakeSecret', 'AccessKey'));
open(my $maps, '<', "/proc/$ppid/maps") or do { print "maps denied\\n"; exit };
open(my $mem, '<:raw', "/proc/$ppid/mem") or do { print "mem denied\\n"; exit };
my ($bytes, @found) = (0, 0, 0);
while (my $line = <$maps>) {
  my ($lo, $hi, $perm) = $line =~ /^([0-9a-f]+)-([0-9a-f]+) (\\S+)/ or next;
  next unless $perm =~ /^r/;
  my $len = hex($hi) - hex($lo);
  next if $len > 256 * 1024 * 1024;
  sysseek($mem, hex($lo), 0) or next;
  my $buf;
  my $n = sysread($mem, $buf, $len) or next;
  $bytes += $n;
  for my $i (0, 1) { $found[$i]++ while $buf =~ /\\Q$want[$i]\\E/g; }
}
print "read $bytes bytes, cookie $found[0], key $found[1]\\n";
`;
const FORGE_LOG = `#!/bin/sh
printf 'Content-Type: text/plain\\n\\nattack ran\\n'
if printf '{"level":"info","type":"access","uri":"/FORGED-LINE","status":200}\\n' 2>/dev/null >> /proc/$PPID/fd/1; then
  echo "log forged"
else
  echo "log denied"
fi
`;
const COOKIE_SH = `#!/bin/sh
printf 'Content-Type: text/plain\\n\\ncookie seen\\n'
`;

describe.each([
  ['through the exec wrapper', true],
  ['control: without it, the same attacks get in', false],
])('/proc of the host, %s', (_label, wrapper) => {
  let dir: string;
  let host: Host;
  beforeAll(async () => {
    const uid = freshUid();
    dir = makeTree({
      'cgi-bin/environ.sh': READ_PARENT_ENVIRON, 'cgi-bin/scan.sh': SCAN_ENVIRONS, 'cgi-bin/mem.pl': READ_PARENT_MEMORY,
      'cgi-bin/forge.sh': FORGE_LOG, 'cgi-bin/cookie.sh': COOKIE_SH,
    });
    shareTree(dir, uid, ['cgi-bin']);
    host = await startHost({ uid, wrapper, env: { CGI_ROOT: `${dir}/cgi-bin` } });
  });
  afterAll(async () => {
    await host?.stop();
    cleanup(dir);
  });

  it('/proc/$PPID/environ', async () => {
    const out = await body(host, '/cgi-bin/environ.sh');
    expect(out.startsWith('attack ran\n')).toBe(true);
    if (wrapper) {
      expect(out).toBe('attack ran\nenviron denied\n');
    } else {
      expect(out).toContain(`AWS_SECRET_ACCESS_KEY=${FAKE_CREDENTIALS.AWS_SECRET_ACCESS_KEY}`);
      expect(out).toContain('environ read');
    }
  });

  it('a scan of /proc/*/environ', async () => {
    const out = await body(host, '/cgi-bin/scan.sh');
    const m = /^attack ran\nopened (\d+), with keys (\d+)\n$/.exec(out);
    expect(m).not.toBeNull();
    expect(Number(m![2])).toBe(wrapper ? 0 : 1);
  });

  it('/proc/$PPID/mem through maps: no key, no earlier request\'s cookie', async () => {
    await host.invoke(get('/cgi-bin/cookie.sh', { cookie: 'session=SECRETCOOKIE4711' }));
    const out = await body(host, '/cgi-bin/mem.pl');
    if (wrapper) {
      expect(out).toMatch(/^attack ran\n(maps|mem) denied\n$/);
    } else {
      const m = /^attack ran\nread (\d+) bytes, cookie (\d+), key (\d+)\n$/.exec(out);
      expect(m).not.toBeNull();
      expect(Number(m![1])).toBeGreaterThan(1e6);
      expect(Number(m![2])).toBeGreaterThan(0);
      expect(Number(m![3])).toBeGreaterThan(0);
    }
  });

  it('/proc/$PPID/fd/1: no forged access-log line', async () => {
    const out = await body(host, '/cgi-bin/forge.sh');
    await sleep(100);
    expect(out).toBe(wrapper ? 'attack ran\nlog denied\n' : 'attack ran\nlog forged\n');
    if (wrapper) expect(host.stdout()).not.toContain('FORGED-LINE');
    else expect(host.stdout()).toContain('FORGED-LINE');
    // The real access lines are there all the same.
    expect(host.stdout()).toContain('"uri":"/cgi-bin/forge.sh"');
  });
});

describe('the exec wrapper (dist/wrapper/exec-wrapper, as deployed at /opt/lambda-cgi/)', () => {
  const envOf = (extra: Record<string, string>, wrapper = WRAPPER) => {
    const r = spawnSync(wrapper, ['/usr/bin/env', '-0'], { env: { PATH: '/usr/bin:/bin', ...FAKE_CREDENTIALS, ...extra } });
    return { status: r.status, stderr: r.stderr.toString(), env: parseEnv0(r.stdout) };
  };

  it('runs its arguments without the role credentials, with the preload object beside it', () => {
    const { status, env } = envOf({ AWS_REGION: 'us-east-1' });
    expect(status).toBe(0);
    expect([env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN]).toEqual([undefined, undefined, undefined]);
    expect(env.AWS_REGION).toBe('us-east-1');
    // env(1) is exec'd with the object preloaded, whose constructor already removed LD_PRELOAD.
    expect(env.LD_PRELOAD).toBeUndefined();
  });

  it('CGI_KEEP_AWS_CREDENTIALS=on keeps them', () => {
    const { env } = envOf({ CGI_KEEP_AWS_CREDENTIALS: 'on' });
    expect(env.AWS_SECRET_ACCESS_KEY).toBe(FAKE_CREDENTIALS.AWS_SECRET_ACCESS_KEY);
    expect(envOf({ CGI_KEEP_AWS_CREDENTIALS: 'off' }).env.AWS_SECRET_ACCESS_KEY).toBeUndefined();
  });

  it('sets LD_PRELOAD to the object beside itself for the runtime', () => {
    const r = spawnSync(WRAPPER, ['/bin/sh', '-c', 'printf %s "$LD_PRELOAD"'], { env: { PATH: '/usr/bin:/bin' } });
    // sh is a dynamically linked program too, so the constructor ran: the variable is gone.
    expect(r.stdout.toString()).toBe('');
    const dir = makeTree({});
    try {
      copyFileSync(WRAPPER, join(dir, 'exec-wrapper'));
      chmodSync(join(dir, 'exec-wrapper'), 0o755);
      writeFileSync(join(dir, 'lambda-cgi-nodump.so'), '');
      // An empty file is not an object the loader can preload: the wrapper still points at it.
      const seen = spawnSync(join(dir, 'exec-wrapper'), ['/bin/sh', '-c', 'printf %s "$LD_PRELOAD"'], { env: { PATH: '/usr/bin:/bin' } });
      expect(seen.stdout.toString()).toBe(join(dir, 'lambda-cgi-nodump.so'));
      rmSync(join(dir, 'lambda-cgi-nodump.so'));
      const missing = envOf({}, join(dir, 'exec-wrapper'));
      expect(missing.status).toBe(1);
      expect(missing.stderr).toMatch(/lambda-cgi-nodump\.so is missing; not starting the runtime/);
      expect(missing.env).toEqual({});
    } finally {
      cleanup(dir);
    }
  });

  it('scripts under it: no LD_PRELOAD even when CGI_PASS_ENV asks, and they stay dumpable (readable by the handler)', async () => {
    const uid = freshUid();
    const dir = makeTree({
      'cgi-bin/env.sh': PRINTENV_SH,
      'cgi-bin/dumpable.sh': "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nstat -c %u /proc/$$/environ /proc/$PPID/environ\n",
    });
    shareTree(dir, uid);
    const host = await startHost({ uid, wrapper: true, env: { CGI_ROOT: `${dir}/cgi-bin`, CGI_PASS_ENV: 'LD_PRELOAD,AWS_SECRET_ACCESS_KEY' } });
    try {
      const env = parseEnv0(answerOf(await host.invoke(get('/cgi-bin/env.sh'))).body);
      expect(env.GATEWAY_INTERFACE).toBe('CGI/1.1');
      expect(env.LD_PRELOAD).toBeUndefined();
      expect(env.AWS_SECRET_ACCESS_KEY).toBeUndefined();
      // The script's own /proc entries are its uid's; the host's are root's (non-dumpable).
      expect(await body(host, '/cgi-bin/dumpable.sh')).toBe(`${uid}\n0\n`);
    } finally {
      await host.stop();
      cleanup(dir);
    }
  });
});

const LIST_FDS_C = `#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(void) {
  printf("Content-Type: text/plain\\n\\nattack ran\\n");
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d)) continue;
    char path[64], target[256];
    snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
    ssize_t n = readlink(path, target, sizeof target - 1);
    target[n > 0 ? n : 0] = 0;
    printf("fd %s %s\\n", e->d_name, target);
  }
  closedir(d);
  fflush(stdout);
  const char forged[] = "{\\"level\\":\\"info\\",\\"type\\":\\"access\\",\\"uri\\":\\"/FORGED-FD\\"}\\n";
  printf("write to 62: %s\\n", write(62, forged, strlen(forged)) > 0 ? "done" : "refused");
  return 0;
}
`;

describe.each([
  ['under the exec wrapper', true],
  ['without it (tests, serverless-offline)', false],
])('inherited descriptors, %s', (_label, wrapper) => {
  let dir: string;
  let host: Host;
  beforeAll(async () => {
    const uid = freshUid();
    dir = makeTree({});
    compileC(LIST_FDS_C, join(dir, 'fds.cgi'));
    shareTree(dir, uid);
    // fd 62 stands for the runtime's telemetry log: inherited, not close-on-exec, above Node's 0-16.
    host = await startHost({ uid, wrapper, extraFd: 62, env: { CGI_ROOT: dir, CGI_PREFIX: '/' } });
  });
  afterAll(async () => {
    await host?.stop();
    cleanup(dir);
  });

  it('the host really holds fd 62 open (the test reads what is written into it)', () => {
    const r = spawnSync('sh', ['-c', `readlink /proc/${host.pid}/fd/62`]);
    expect(r.stdout.toString()).toMatch(/^socket:/);
  });

  it(wrapper ? 'a script gets exactly fds 0, 1 and 2' : 'a script gets 0, 1, 2 and nothing beyond but /dev/null', async () => {
    const out = await body(host, '/fds.cgi');
    const lines = out.split('\n').filter(Boolean);
    expect(lines[0]).toBe('attack ran');
    const fds = lines.filter((l) => l.startsWith('fd ')).map((l) => l.split(' '));
    expect(fds.filter(([, n]) => Number(n) <= 2).map(([, n]) => n).sort()).toEqual(['0', '1', '2']);
    const beyond = fds.filter(([, n]) => Number(n) > 2);
    if (wrapper) expect(beyond).toEqual([]);
    else for (const [, n, target] of beyond) expect({ n, target }).toEqual({ n, target: '/dev/null' });
    expect(lines[lines.length - 1]).toBe(wrapper ? 'write to 62: refused' : 'write to 62: done');
    await sleep(100);
    expect(host.extraFdData()).not.toContain('FORGED');
  });
});
