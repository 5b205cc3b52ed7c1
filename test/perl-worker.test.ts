/**
 * The persistent Perl worker: a corpus of real Perl CGI scripts run through
 * the worker and through plain spawn must give identical stdout, stderr and
 * exit status; which scripts go where; lifecycle (crash, recycle, lifeline,
 * timeouts); no fd or process leaks over thousands of requests.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type Config } from '../handler/config';
import { resolveCommand } from '../handler/interpreter';
import { createLogger } from '../handler/log';
import type { CgiJob, CgiOutput } from '../handler/process/runner';
import { createRunner, globToRegExp, shutdownPerlWorkers, type SelectingRunner } from '../handler/process/select';
import { longLivedPids } from '../handler/process/worker';
import { allProcesses, isRunning, jsonLines, liveInGroups, settle } from './support/processes';
import { cleanup, makeTree } from './support/site';

const P = '#!/usr/bin/perl\n';

/** name → [script, request]: every script here must behave the same both ways. */
interface Case {
  script: string;
  query?: string;
  method?: string;
  body?: Buffer | string;
  contentType?: string;
  env?: Record<string, string>;
}

const boundary = '----lcgi';
const upload = Buffer.from(
  `--${boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nmy file\r\n` +
    `--${boundary}\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n` +
    `line one\nline two\n\r\n--${boundary}--\r\n`,
);

const CORPUS: Record<string, Case> = {
  'cgi-function-style.pl': {
    script: `${P}use CGI qw(:standard);
print header, start_html('Form'), h1(escapeHTML(param('q'))), p(join ',', param('b')), end_html;
`,
    query: 'q=%3Cb%3Ehi%3C/b%3E&b=1&b=2',
  },
  'cgi-oo-style.pl': {
    script: `${P}use strict; use CGI;
my $q = CGI->new;
print $q->header(-type => 'text/plain', -cookie => $q->cookie(-name => 'a', -value => 'b'));
print join(',', map { "$_=" . join('+', $q->param($_)) } sort $q->param), "\\n";
print $q->url(-relative => 1), ' ', $q->request_method, ' ', ($q->cookie('seen') // 'no cookie'), "\\n";
`,
    method: 'POST', body: 'x=1&y=2&y=3', contentType: 'application/x-www-form-urlencoded', env: { HTTP_COOKIE: 'seen=yes' },
  },
  'cgi-form-page.pl': {
    script: `${P}use CGI qw(:standard);
print header, start_html(-title => 'Apply'), start_form, textfield('name'), popup_menu('c', ['a', 'b']),
  checkbox_group('k', ['x', 'y']), submit, end_form, end_html;
`,
    query: 'name=Zo%C3%AB&c=b',
  },
  'exit-midway.pl': { script: `${P}print "Content-Type: text/plain\\n\\nbefore\\n"; exit 3; print "after\\n";\n` },
  'die-plain.pl': { script: `${P}print "Content-Type: text/plain\\n\\nbefore\\n"; die "oops\\n";\n` },
  'die-errno.pl': { script: `${P}print "Content-Type: text/plain\\n\\n"; open(my $f, '<', '/nonexistent/x') or die "cannot open: $!";\n` },
  'die-status.pl': { script: `${P}print "Content-Type: text/plain\\n\\n"; system('sh', '-c', 'exit 7'); die "after system";\n` },
  'die-object.pl': { script: `${P}package Err; sub new { bless {}, shift } package main; print "Content-Type: text/plain\\n\\n"; die "plain: " . ref(Err->new) . "\\n";\n` },
  'die-in-eval.pl': { script: `${P}print "Content-Type: text/plain\\n\\n"; eval { die "caught\\n" }; print "got: $@";\n` },
  'carp-fatals-runtime.pl': {
    script: `${P}use CGI::Carp qw(fatalsToBrowser);\nprint "Content-Type: text/html\\n\\n<p>start</p>\\n";\ndie "runtime boom";\n`,
  },
  'carp-fatals-early.pl': { script: `${P}use CGI::Carp qw(fatalsToBrowser);\ndie "before any header";\n` },
  'carp-fatals-compile.pl': { script: `${P}use CGI::Carp qw(fatalsToBrowser);\nuse No::Such::Module;\nprint "never\\n";\n` },
  'carp-fatals-syntax.pl': { script: `${P}use CGI::Carp qw(fatalsToBrowser);\nmy $x = ;\n` },
  'carp-warn.pl': { script: `${P}use CGI::Carp;\nprint "Content-Type: text/plain\\n\\nok\\n";\nwarn "carped warning";\n` },
  'syntax-error.pl': { script: `${P}print "a";\nmy $x = ;\n` },
  'missing-module.pl': { script: `${P}use strict;\nuse Not::Installed::Anywhere;\n` },
  'begin-die.pl': { script: `${P}BEGIN { die "begin died\\n" }\nprint "no\\n";\n` },
  'data-section.pl': {
    script: `${P}print "Content-Type: text/plain\\n\\n";\nprint while <DATA>;\nseek DATA, 0, 0; my $first = <DATA>; print "first: $first";\n__DATA__\nalpha\nbeta\n`,
  },
  'end-section.pl': { script: `${P}print "Content-Type: text/plain\\n\\n", <DATA>;\n__END__\nafter end\n` },
  'modulino.pl': {
    script: `${P}package Page;\nsub run { print "Content-Type: text/plain\\n\\nmodulino ran\\n" }\npackage main;\nPage::run() unless caller;\n1;\n`,
  },
  'caller-frames.pl': {
    script: `${P}print "Content-Type: text/plain\\n\\n";
sub f { my @c = caller(0); my @d = caller(1); my @e = caller; print scalar(@d), " $c[3] $e[2] ", (defined(caller(1)) ? 'def' : 'undef'), "\\n" }
f();
print "top: ", (defined(caller) ? 'caller' : 'none'), ' ', scalar(() = caller(0)), "\\n";
sub g { h() } sub h { my @x = caller(1); print "h from $x[3] line $x[2]\\n" } g();
`,
  },
  'croak-from-sub.pl': { script: `${P}use Carp;\nprint "Content-Type: text/plain\\n\\n";\nsub check { croak "bad argument" }\ncheck();\n` },
  'findbin-lib.pl': {
    script: `${P}use strict;\nuse FindBin qw($Bin $Script);\nuse lib "$FindBin::Bin/lib";\nuse Greeting;\nprint "Content-Type: text/plain\\n\\n$0\\n$Bin $Script\\n", Greeting::hello(), "\\n";\n`,
  },
  'no-strict.pl': { script: `${P}$x = 1; @y = (1, 2); print "Content-Type: text/plain\\n\\n$x @y ", __FILE__, ' ', __LINE__, "\\n"; warn "warned";\n` },
  'env.pl': {
    script: `${P}print "Content-Type: text/plain\\n\\n";\nprint "$_=$ENV{$_}\\n" for sort keys %ENV;\nprint "--\\n";\nsystem('env | sort');\n`,
    query: 'a=1', env: { HTTP_X_THING: 'thing' },
  },
  'tz.pl': {
    script: `${P}use POSIX qw(strftime);\nprint "Content-Type: text/plain\\n\\n", scalar(localtime(86400 * 365)), "\\n", strftime('%Z %z', localtime(0)), "\\n";\n`,
    env: { TZ: 'Asia/Tokyo' },
  },
  'tz-est.pl': { script: `${P}print "Content-Type: text/plain\\n\\n", scalar(localtime(0)), "\\n";\n`, env: { TZ: 'EST5EDT' } },
  'srand.pl': { script: `${P}srand(42); print "Content-Type: text/plain\\n\\n", join(' ', map { int rand 1000 } 1 .. 5), "\\n";\n` },
  'file-tests.pl': {
    script: `${P}print "Content-Type: text/plain\\n\\n", sprintf("%.0f %.0f", -M 'old.txt', -A 'old.txt'), ' ', (-e 'old.txt' ? 1 : 0), ' ', ($^T <= time ? 'ok' : 'bad'), "\\n";\n`,
  },
  'binmode-utf8.pl': { script: `${P}binmode STDOUT, ':encoding(UTF-8)';\nprint "Content-Type: text/plain; charset=utf-8\\n\\n\\x{263A} \\x{e9}\\n";\n` },
  'binmode-raw.pl': { script: `${P}binmode STDOUT;\nprint "Content-Type: application/octet-stream\\n\\n", pack('C*', 0 .. 255);\n` },
  'system-exec.pl': {
    script: `${P}print "Content-Type: text/plain\\n\\nfirst\\n";\nsystem('echo', 'from system');\nprint "second\\n";\nsyswrite STDOUT, "raw\\n";\nexec '/bin/echo', 'from exec';\n`,
  },
  'buffered-then-system.pl': { script: `${P}$| = 0; print "Content-Type: text/plain\\n\\n"; print "buffered "; system('printf child'); print " done\\n";\n` },
  'stdin-partial.pl': {
    script: `${P}binmode STDIN; read(STDIN, my $buf, 100); print "Content-Type: text/plain\\n\\n", length($buf), ':', substr($buf, 0, 10), "\\n";\n`,
    method: 'POST', body: 'x'.repeat(10_000), contentType: 'application/octet-stream',
  },
  'stdin-unread-large.pl': {
    script: `${P}print "Content-Type: text/plain\\n\\nnot reading\\n";\n`,
    method: 'POST', body: Buffer.alloc(3 * 1024 * 1024, 0x61), contentType: 'application/octet-stream',
  },
  'stdin-full-grown-pipe.pl': {
    script: `${P}binmode STDIN; local $/; my $in = <STDIN>; print "Content-Type: text/plain\\n\\n", length($in), ' ', unpack('%32C*', $in), ' ', (eof(STDIN) ? 'eof' : 'more'), "\\n";\n`,
    method: 'POST', body: Buffer.from(Array.from({ length: 500_000 }, (_, i) => (i * 7) % 256)), contentType: 'application/octet-stream',
  },
  'stdin-cat.pl': {
    script: `${P}print "Content-Type: application/octet-stream\\n\\n"; exec '/bin/cat';\n`,
    method: 'POST', body: Buffer.from(Array.from({ length: 2_500_000 }, (_, i) => (i * 13) % 251)), contentType: 'application/octet-stream',
  },
  'large-output.pl': { script: `${P}print "Content-Type: text/plain\\n\\n"; print "line $_ ", 'x' x 100, "\\n" for 1 .. 30000;\n` },
  'lots-of-stderr.pl': { script: `${P}print STDERR "err line $_ ", 'e' x 200, "\\n" for 1 .. 300; print "Content-Type: text/plain\\n\\nok\\n";\n` },
  'upload.pl': {
    script: `${P}use CGI; my $q = CGI->new; my $fh = $q->upload('f'); local $/; my $c = <$fh>;
print $q->header('text/plain'), $q->param('title'), ' | ', scalar($q->param('f')), ' | ', $q->uploadInfo($q->param('f'))->{'Content-Type'}, " | $c";
`,
    method: 'POST', body: upload, contentType: `multipart/form-data; boundary=${boundary}`,
  },
  'end-blocks.pl': { script: `${P}END { print "end block ran\\n" } END { $? = 4 if $ENV{QUERY_STRING} eq 'fail' }\nprint "Content-Type: text/plain\\n\\nmain\\n";\n`, query: 'fail' },
  'signal-self.pl': { script: `${P}$| = 1; print "Content-Type: text/plain\\n\\nabout to die\\n"; kill 'TERM', $$; sleep 5;\n` },
  'signal-handler.pl': {
    script: `${P}$| = 1; $SIG{USR1} = sub { print "got USR1\\n" }; print "Content-Type: text/plain\\n\\n"; kill 'USR1', $$; print "sig: ", join(',', grep { defined $SIG{$_} } sort keys %SIG), "\\n";\n`,
  },
  'alarm-handled.pl': { script: `${P}$| = 1; $SIG{ALRM} = sub { print "alarm fired\\n"; exit 0 }; print "Content-Type: text/plain\\n\\n"; alarm 1; sleep 5; print "not here\\n";\n` },
  'alarm-unhandled.pl': { script: `${P}$| = 1; print "Content-Type: text/plain\\n\\nwaiting\\n"; alarm 1; sleep 5;\n` },
  'warn-switch.pl': { script: `#!/usr/bin/perl -w\nmy $x; print "Content-Type: text/plain\\n\\nv=" . $x . "\\n"; print "W=$^W\\n";\n` },
  'isindex.pl': { script: `${P}print "Content-Type: text/plain\\n\\n", join('|', @ARGV), "\\n";\n`, query: 'two+words' },
  'process-state.pl': {
    script: `${P}use Cwd; print "Content-Type: text/plain\\n\\n", getcwd(), "\\n", "$^X\\n", (getpgrp() == $$ ? 'group leader' : 'not leader'), "\\n", "errno=", $!+0, " status=$?\\n", "umask=", sprintf('%03o', umask), "\\n";\n`,
  },
  'nph-like-raw.pl': { script: `${P}$| = 1; print "Status: 201 Made\\r\\nContent-Type: text/plain\\r\\n\\r\\n"; print "made\\n";\n` },
};

/** Output that legitimately differs between two runs: pids, CGI::Carp's timestamps, addresses. */
function normalise(text: string): string {
  return text
    .replace(/\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\]/g, '[TIME]')
    // CGI.pm's Date header (sent with a cookie): runs a second apart must still compare equal.
    .replace(/\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT/g, '[HTTP-DATE]')
    .replace(/\(0x[0-9a-f]+\)/g, '(0xADDR)');
}

let root: string;
let bin: string;
let on: SelectingRunner;
let off: SelectingRunner;
let spawner: SelectingRunner;
let config: Config;
const logged: string[] = [];

function jobFor(name: string, c: Case, cfg = config): CgiJob & { stderr: string[] } {
  const file = join(bin, name);
  const command = resolveCommand(cfg, file, statSync(file));
  if (command.error !== undefined) throw new Error(command.error);
  const body = c.body === undefined ? Buffer.alloc(0) : Buffer.from(c.body);
  const stderr: string[] = [];
  const query = c.query ?? '';
  return {
    file: command.file,
    args: [...command.args, ...(query.includes('=') || query === '' ? [] : query.split('+'))],
    cwd: bin,
    env: {
      PATH: '/usr/bin:/bin',
      // What buildCgiEnv passes every script by default; the server starts with the same locale.
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_SOFTWARE: 'lambda-cgi/0.1',
      SERVER_NAME: 'example.test',
      SERVER_PORT: '443',
      SERVER_PROTOCOL: 'HTTP/1.1',
      HTTPS: 'on',
      REQUEST_METHOD: c.method ?? 'GET',
      QUERY_STRING: query,
      SCRIPT_NAME: `/cgi-bin/${name}`,
      SCRIPT_FILENAME: file,
      REQUEST_URI: `/cgi-bin/${name}${query ? `?${query}` : ''}`,
      REMOTE_ADDR: '203.0.113.9',
      ...(body.length > 0 ? { CONTENT_LENGTH: String(body.length), CONTENT_TYPE: c.contentType ?? '' } : {}),
      ...c.env,
    },
    stdin: body,
    timeoutMs: 20_000,
    maxOutputBytes: 50 * 1024 * 1024,
    onStderrLine: (line) => void stderr.push(line),
    stderr,
  };
}

type Seen = { stdout: string; stderr: string[]; exitCode: number | null; signal: string | null; runner?: string };
async function runBoth(runner: SelectingRunner, name: string, c: Case): Promise<Seen> {
  const job = jobFor(name, c);
  const out: CgiOutput = await runner.run(job);
  return {
    stdout: normalise(out.stdout.toString('latin1')),
    stderr: job.stderr.map(normalise),
    exitCode: out.exitCode,
    signal: out.signal,
    runner: out.runner,
  };
}

beforeAll(async () => {
  const files: Record<string, string> = {
    'kept.pl': `${P}print "Content-Type: text/plain\\n\\nok\\n";\n`,
    'admin/tool.pl': `${P}print "Content-Type: text/plain\\n\\nok\\n";\n`,
    'lib/Greeting.pm': 'package Greeting;\nsub hello { "hello from lib" }\n1;\n', 'old.txt': 'old\n' };
  for (const [name, c] of Object.entries(CORPUS)) files[name] = c.script;
  root = makeTree(Object.fromEntries(Object.entries(files).map(([k, v]) => [`cgi-bin/${k}`, v])));
  bin = `${root}/cgi-bin`;
  const twoDaysAgo = Date.now() / 1000 - 2 * 86400 - 3600;
  utimesSync(`${bin}/old.txt`, twoDaysAgo, twoDaysAgo);
  const logger = createLogger('json', () => {}, (s) => void logged.push(s));
  config = loadConfig({ PATH: process.env.PATH, CGI_ROOT: bin });
  on = createRunner(config, logger);
  off = createRunner(loadConfig({ PATH: process.env.PATH, CGI_ROOT: bin, CGI_PERL_WORKER: 'off', CGI_SPAWNER: 'off' }), logger);
  spawner = createRunner(loadConfig({ PATH: process.env.PATH, CGI_ROOT: bin, CGI_PERL_WORKER: 'off' }), logger);
  expect(await on.whenReady()).toBe(true);
  expect(await spawner.spawnerReady()).toBe(true);
});
afterAll(() => cleanup(root));

describe('differential corpus: worker, cgi-spawner and plain spawn agree byte for byte', () => {
  it.each(Object.keys(CORPUS))('%s', async (name) => {
    const c = CORPUS[name];
    const viaSpawn = await runBoth(off, name, c);
    const viaWorker = await runBoth(on, name, c);
    const viaSpawner = await runBoth(spawner, name, c);
    expect([viaSpawn.runner, viaWorker.runner, viaSpawner.runner]).toEqual(['spawn', 'perl-worker', 'spawner']);
    delete viaSpawn.runner;
    delete viaWorker.runner;
    delete viaSpawner.runner;
    expect(viaWorker).toEqual(viaSpawn);
    expect(viaSpawner).toEqual(viaSpawn);
  });

  it('the corpus really exercises what it says (a few spot checks of the spawn side)', async () => {
    expect((await runBoth(off, 'modulino.pl', CORPUS['modulino.pl'])).stdout).toContain('modulino ran');
    expect((await runBoth(off, 'die-errno.pl', CORPUS['die-errno.pl'])).exitCode).toBe(2);
    expect((await runBoth(off, 'signal-self.pl', CORPUS['signal-self.pl'])).signal).toBe('SIGTERM');
    expect((await runBoth(off, 'carp-fatals-runtime.pl', CORPUS['carp-fatals-runtime.pl'])).stdout).toContain('runtime boom');
    expect((await runBoth(off, 'syntax-error.pl', CORPUS['syntax-error.pl'])).stderr.join('\n')).toMatch(/aborted due to compilation errors/);
    expect((await runBoth(off, 'tz.pl', CORPUS['tz.pl'])).stdout).toContain('JST');
    expect((await runBoth(off, 'findbin-lib.pl', CORPUS['findbin-lib.pl'])).stdout).toContain('hello from lib');
  });
});

describe('per-request state', () => {
  const script = `${P}print "Content-Type: text/plain\\n\\n", rand(), " $$\\n";\n`;
  it('each request gets its own random seed and its own process', async () => {
    writeFileSync(`${bin}/rand.pl`, script, { mode: 0o755 });
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const out = await on.run(jobFor('rand.pl', { script }));
      expect(out.runner).toBe('perl-worker');
      seen.add(out.stdout.toString());
    }
    expect(seen.size).toBe(10);
  });

  it('CGI.pm parameters never carry over from one request to the next', async () => {
    const name = 'cgi-oo-style.pl';
    const first = await on.run(jobFor(name, { ...CORPUS[name] }));
    const second = await on.run(jobFor(name, { script: '', query: 'z=9' }));
    expect(first.stdout.toString()).toContain('x=1,y=2+3');
    expect(second.stdout.toString()).toContain('z=9\n');
    expect(second.stdout.toString()).not.toContain('x=1');
  });
});

describe('which runner serves what', () => {
  const write = (name: string, text: string) => writeFileSync(`${bin}/${name}`, text, { mode: 0o755 });
  const plain = (t: string) => `${t}print "Content-Type: text/plain\\n\\nok\\n";\n`;

  it('perl with -T or another switch, a non-Perl script, and env perl go to cgi-spawner (or spawn without it)', async () => {
    write('taint.pl', plain('#!/usr/bin/perl -T\n'));
    write('minus-l.pl', plain('#!/usr/bin/perl -l\n'));
    write('shell.sh', '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\nok\\n"\n');
    for (const name of ['taint.pl', 'minus-l.pl', 'shell.sh']) {
      const out = await on.run(jobFor(name, { script: '' }));
      expect([name, out.runner, out.exitCode]).toEqual([name, 'spawner', 0]);
      expect((await off.run(jobFor(name, { script: '' }))).runner).toBe('spawn');
    }
    write('warn.pl', plain('#!/usr/bin/perl -w\n'));
    expect((await on.run(jobFor('warn.pl', { script: '' }))).runner).toBe('perl-worker');
  });

  it('a script naming no preloaded module runs in the bare zygote (nothing preloaded); one using CGI where CGI is', async () => {
    write('bare.pl', `${P}print "Content-Type: text/plain\\n\\n", (exists $INC{'CGI.pm'} ? 'CGI loaded' : 'no CGI'), "\\n";\n`);
    write('withcgi.pl', `${P}use CGI ();\nprint "Content-Type: text/plain\\n\\n", (exists $INC{'Digest/MD5.pm'} ? 'preloaded' : 'bare'), "\\n";\n`);
    const bare = await on.run(jobFor('bare.pl', { script: '' }));
    expect([bare.runner, bare.stdout.toString()]).toEqual(['perl-worker', 'Content-Type: text/plain\n\nno CGI\n']);
    const cgi = await on.run(jobFor('withcgi.pl', { script: '' }));
    expect([cgi.runner, cgi.stdout.toString()]).toEqual(['perl-worker', 'Content-Type: text/plain\n\npreloaded\n']);
  });

  it('CGI_PERL_WORKER_EXCLUDE globs are matched against the path under the root', async () => {
    const logger = createLogger('json', () => {}, () => {});
    const cfg = loadConfig({ PATH: process.env.PATH, CGI_ROOT: bin, CGI_PERL_WORKER_EXCLUDE: 'admin/*.pl, nothing.cgi' });
    const r = createRunner(cfg, logger);
    expect(await r.whenReady()).toBe(true);
    expect((await r.run(jobFor('admin/tool.pl', { script: '' }, cfg))).runner).toBe('spawner');
    expect((await r.run(jobFor('kept.pl', { script: '' }, cfg))).runner).toBe('perl-worker');
  });

  it('globs: * stays in a segment, ** crosses them', () => {
    expect(globToRegExp('admin/*.pl').test('admin/x.pl')).toBe(true);
    expect(globToRegExp('admin/*.pl').test('admin/sub/x.pl')).toBe(false);
    expect(globToRegExp('**/*.cgi').test('a/b/c.cgi')).toBe(true);
    expect(globToRegExp('**/*.cgi').test('c.cgi')).toBe(true);
    expect(globToRegExp('gitweb.cgi').test('xgitweb.cgi')).toBe(false);
  });

  it('CGI_PERL_WORKER=off: everything goes to cgi-spawner; with CGI_SPAWNER=off too, everything spawns', async () => {
    expect((await spawner.run(jobFor('kept.pl', { script: '' }))).runner).toBe('spawner');
    expect((await off.run(jobFor('kept.pl', { script: '' }))).runner).toBe('spawn');
    expect(await off.whenReady()).toBe(false);
    expect(await off.spawnerReady()).toBe(false);
  });

  it('with CGI_RLIMIT_* every script is exec\'d by cgi-spawner under the limits, never by the worker; with CGI_SPAWNER=off too, spawned through cgi-exec', async () => {
    writeFileSync(`${bin}/ulimit.sh`, '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\n%s\\n" "$(ulimit -t)"\n', { mode: 0o755 });
    writeFileSync(`${bin}/ulimit.pl`, `${P}print "Content-Type: text/plain\\n\\n", \`sh -c 'ulimit -t'\`;\n`, { mode: 0o755 });
    for (const [extra, runner] of [[{}, 'spawner'], [{ CGI_SPAWNER: 'off' }, 'spawn']] as const) {
      const cfg = loadConfig({ PATH: process.env.PATH, CGI_ROOT: bin, CGI_RLIMIT_CPU: '5', ...extra });
      const r = createRunner(cfg, createLogger('json', () => {}, () => {}));
      await r.spawnerReady();
      for (const name of ['ulimit.sh', 'ulimit.pl']) {
        const out = await r.run(jobFor(name, { script: '' }, cfg));
        expect([name, out.runner, out.stdout.toString()]).toEqual([name, runner, 'Content-Type: text/plain\n\n5\n']);
      }
    }
  });
});

describe('the server process', () => {
  const serverPid = () => on.workerPids()[0];

  it('runs with a clean environment: no AWS variables, only PATH and Perl settings', async () => {
    const prev = process.env.AWS_SECRET_ACCESS_KEY;
    process.env.AWS_SECRET_ACCESS_KEY = 'do-not-leak';
    try {
      const cfg = loadConfig({ PATH: process.env.PATH, CGI_ROOT: bin, PERL5LIB: '/nowhere/lib', CGI_ENV_PERL_BADLANG: '0', AWS_SECRET_ACCESS_KEY: 'x' });
      const r = createRunner(cfg, createLogger('json', () => {}, () => {}));
      expect(await r.whenReady()).toBe(true);
      const pids = longLivedPids();
      const envs = pids.map((p) => {
        try {
          return readFileSync(`/proc/${p}/environ`, 'latin1').split('\0').filter(Boolean).sort();
        } catch {
          return [];
        }
      });
      const withLib = envs.find((e) => e.includes('PERL5LIB=/nowhere/lib'));
      expect(withLib).toEqual(['LANG=C.UTF-8', 'LC_ALL=C.UTF-8', 'PATH=' + cfg.passedEnv.PATH, 'PERL5LIB=/nowhere/lib', 'PERL_BADLANG=0'].sort());
    } finally {
      if (prev === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      else process.env.AWS_SECRET_ACCESS_KEY = prev;
    }
  });

  it('a request child gets only fds 0, 1 and 2', async () => {
    const script = `${P}opendir my $d, "/proc/$$/fd"; my @fds = sort { $a <=> $b } grep { /^\\d+$/ && readlink("/proc/$$/fd/$_") !~ m{^/proc/} } readdir $d; print "Content-Type: text/plain\\n\\n@fds\\n";\n`;
    writeFileSync(`${bin}/fds.pl`, script, { mode: 0o755 });
    const out = await on.run(jobFor('fds.pl', { script }));
    expect(out.runner).toBe('perl-worker');
    // (opendir's own descriptor points into /proc and is left out.) Plain spawn can show more
    // here: whatever the test runner left inheritable; the worker closed those at start-up.
    expect(out.stdout.toString()).toBe('Content-Type: text/plain\n\n0 1 2\n');
  });

  it('descriptors Node inherited (as from the Lambda runtime) reach neither the server nor its children', async () => {
    const script = `${P}opendir my $d, "/proc/$$/fd"; my @fds = sort { $a <=> $b } grep { /^\\d+$/ && readlink("/proc/$$/fd/$_") !~ m{^/proc/} } readdir $d; print "Content-Type: text/plain\\n\\n@fds\\n";\n`;
    writeFileSync(`${bin}/fds2.pl`, script, { mode: 0o755 });
    const mod = (m: string) => JSON.stringify(join(__dirname, '..', m));
    const code = `
      const { loadConfig } = require(${mod('handler/config')});
      const { createLogger } = require(${mod('handler/log')});
      const { createRunner, shutdownPerlWorkers } = require(${mod('handler/process/select')});
      const keep = setInterval(() => {}, 1000);
      const r = createRunner(loadConfig({ PATH: process.env.PATH, CGI_ROOT: ${JSON.stringify(bin)} }), createLogger('json', () => {}, () => {}));
      r.whenReady().then(async () => {
        const fds = require('node:fs').readdirSync('/proc/self/fd').map(Number);
        const out = await r.run({ file: ${JSON.stringify(`${bin}/fds2.pl`)}, args: [], cwd: ${JSON.stringify(bin)}, env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' }, stdin: Buffer.alloc(0), timeoutMs: 10000, maxOutputBytes: 1e6, onStderrLine: () => {} });
        const server = require('node:fs').readdirSync('/proc/' + r.workerPids()[0] + '/fd').map(Number).filter((f) => f === 7);
        console.log(JSON.stringify({ node7: fds.includes(7), runner: out.runner, body: out.stdout.toString().split('\\n\\n')[1], server7: server.length }));
        await shutdownPerlWorkers(); clearInterval(keep);
      });`;
    const child = spawnSync('sh', ['-c', 'exec 7</etc/hostname; exec "$0" --import tsx -e "$1"', process.execPath, code], { encoding: 'utf8', timeout: 30_000 });
    expect(JSON.parse(child.stdout.trim())).toEqual({ node7: true, runner: 'perl-worker', body: '0 1 2\n', server7: 0 });
  });

  it('a timeout kills the child and its process group (504 path), and the worker serves on', async () => {
    const script = `${P}$| = 1; print "Content-Type: text/plain\\n\\n"; my $k = fork; if (!$k) { exec 'sleep', '300' } open my $f, '>', 'timeout.pids'; print $f "$$ $k\\n"; close $f; sleep 300;\n`;
    writeFileSync(`${bin}/slow.pl`, script, { mode: 0o755 });
    const job = { ...jobFor('slow.pl', { script }), timeoutMs: 800 };
    const out = await on.run(job);
    expect(out.runner).toBe('perl-worker');
    expect(out.timedOut).toBe(true);
    const pids = readFileSync(`${bin}/timeout.pids`, 'utf8').trim().split(' ').map(Number);
    expect(await settle(() => pids.every((p) => !isRunning(p)) && liveInGroups([pids[0]]).length === 0)).toBe(true);
    expect((await on.run(jobFor('kept.pl', { script: '' }))).runner).toBe('perl-worker');
  });

  it('streams: with a stdout sink the worker hands over chunks as they come, with back-pressure, and an abort stops the script', async () => {
    const name = 'large-output.pl';
    const got: Buffer[] = [];
    let slow = 0;
    const job = {
      ...jobFor(name, CORPUS[name]),
      onStdout: (chunk: Buffer) => {
        got.push(chunk);
        // Every tenth chunk the reader is slow: the worker must wait for it.
        if (got.length % 10 === 0) return new Promise<void>((r) => setTimeout(() => (slow++, r()), 5));
        return undefined;
      },
    };
    const out = await on.run(job);
    const viaSpawn = await off.run(jobFor(name, CORPUS[name]));
    expect(out.runner).toBe('perl-worker');
    expect(out.stdout.length).toBe(0);
    expect(slow).toBeGreaterThan(0);
    expect(Buffer.concat(got).equals(viaSpawn.stdout)).toBe(true);

    const abort = new AbortController();
    const script = `${P}$| = 1; print "Content-Type: text/plain\\n\\n"; while (1) { print "tick\\n"; select(undef, undef, undef, 0.05) }\n`;
    writeFileSync(`${bin}/forever.pl`, script, { mode: 0o755 });
    const started = Date.now();
    const running = on.run({ ...jobFor('forever.pl', { script }), onStdout: () => undefined, signal: abort.signal });
    setTimeout(() => abort.abort(), 300);
    const stopped = await running;
    expect([stopped.runner, (stopped as { aborted?: boolean }).aborted, stopped.timedOut]).toEqual(['perl-worker', true, false]);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('output beyond the limit kills the script: tooLarge', async () => {
    const out = await on.run({ ...jobFor('large-output.pl', CORPUS['large-output.pl']), maxOutputBytes: 100_000 });
    expect(out.runner).toBe('perl-worker');
    expect(out.tooLarge).toBe(true);
  });

  it('a crashed server is restarted; meanwhile requests spawn; the in-flight request completes', async () => {
    const script = `${P}$| = 1; print "Content-Type: text/plain\\n\\nstart\\n"; sleep 1; print "end\\n";\n`;
    writeFileSync(`${bin}/inflight.pl`, script, { mode: 0o755 });
    const pid = serverPid();
    const inflight = on.run(jobFor('inflight.pl', { script }));
    await new Promise((r) => setTimeout(r, 300));
    process.kill(pid, 'SIGKILL');
    const during = await on.run(jobFor('kept.pl', { script: '' }));
    // Spawned, or served by the bare zygote if it had not yet seen its master go: either way answered.
    expect([during.exitCode, during.stdout.toString()]).toEqual([0, 'Content-Type: text/plain\n\nok\n']);
    const first = await inflight;
    expect(first.stdout.toString()).toContain('start\nend\n');
    expect(await settle(() => serverPid() !== undefined && serverPid() !== pid, 10_000)).toBe(true);
    expect(await on.whenReady()).toBe(true);
    expect((await on.run(jobFor('kept.pl', { script: '' }))).runner).toBe('perl-worker');
    expect(jsonLines(logged).some((l) => /perl worker \d+: exited \(SIGKILL\)/.test(l.message))).toBe(true);
  });

  it('after CGI_PERL_WORKER_MAX_REQUESTS a fresh server takes over, the old one exits', async () => {
    const cfg = loadConfig({ PATH: process.env.PATH, CGI_ROOT: bin, CGI_PERL_WORKER_MAX_REQUESTS: '5', CGI_PERL_PRELOAD: 'CGI' });
    const r = createRunner(cfg, createLogger('json', () => {}, () => {}));
    expect(await r.whenReady()).toBe(true);
    const pids = new Set<number>();
    const job = () => jobFor('process-state.pl', CORPUS['process-state.pl'], cfg);
    const ppidOf = async () => {
      const out = await r.run({ ...job(), file: `${bin}/ppid.pl`, args: [] });
      return out;
    };
    writeFileSync(`${bin}/ppid.pl`, `${P}print "Content-Type: text/plain\\n\\n", getppid(), "\\n";\n`, { mode: 0o755 });
    for (let i = 0; i < 20; i++) {
      const out = await ppidOf();
      if (out.runner === 'perl-worker') pids.add(Number(out.stdout.toString().split('\n\n')[1]));
      await new Promise((res) => setTimeout(res, 30));
    }
    expect(pids.size).toBeGreaterThanOrEqual(2);
    const all = [...pids];
    expect(await settle(() => all.slice(0, -1).every((p) => !isRunning(p)), 5000)).toBe(true);
  });

  it('lifeline: when Node dies, the server goes with it and its socket is removed', async () => {
    const mod = (m: string) => JSON.stringify(join(__dirname, '..', m));
    const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', `
      const { loadConfig } = require(${mod('handler/config')});
      const { createLogger } = require(${mod('handler/log')});
      const { createRunner } = require(${mod('handler/process/select')});
      setInterval(() => {}, 1000);
      const r = createRunner(loadConfig({ PATH: process.env.PATH, CGI_ROOT: ${JSON.stringify(bin)} }), createLogger('json', () => {}, () => {}));
      r.whenReady().then(() => { console.log(r.workerPids().join(' ')); process.kill(process.pid, 'SIGKILL'); });
    `], { encoding: 'utf8', timeout: 20_000 });
    const pids = child.stdout.trim().split(' ').map(Number);
    expect(pids.length).toBe(1);
    expect(pids[0]).toBeGreaterThan(1);
    expect(await settle(() => !isRunning(pids[0]), 5000)).toBe(true);
  });
});

describe('cgi-spawner lifecycle', () => {
  const sh = (name: string, body: string) => writeFileSync(`${bin}/${name}`, `#!/bin/sh\n${body}`, { mode: 0o755 });

  it('killed: requests are spawned meanwhile, a new one takes over and says why the old one went', async () => {
    sh('hi.sh', 'printf "Content-Type: text/plain\\n\\nhi\\n"\n');
    const pid = spawner.spawnerPid()!;
    expect((await spawner.run(jobFor('hi.sh', { script: '' }))).runner).toBe('spawner');
    process.kill(pid, 'SIGKILL');
    await settle(() => !isRunning(pid), 2000);
    const during = await spawner.run(jobFor('hi.sh', { script: '' }));
    expect([during.exitCode, during.stdout.toString()]).toEqual([0, 'Content-Type: text/plain\n\nhi\n']);
    expect(await settle(() => spawner.spawnerPid() !== undefined && spawner.spawnerPid() !== pid, 10_000)).toBe(true);
    expect(await spawner.spawnerReady()).toBe(true);
    expect((await spawner.run(jobFor('hi.sh', { script: '' }))).runner).toBe('spawner');
    expect(jsonLines(logged).some((l) => /cgi-spawner \d+: exited \(SIGKILL\)/.test(l.message))).toBe(true);
  });

  it('a timeout kills the program\'s whole process group through the lifeline; stderr reaches the log', async () => {
    sh('hang.sh', 'echo "going to sleep" >&2\nsleep 30 &\necho $! > hang.child\nprintf "Content-Type: text/plain\\n\\nslept\\n"\nwait\n');
    const lines: string[] = [];
    const out = await spawner.run({ ...jobFor('hang.sh', { script: '' }), timeoutMs: 500, onStderrLine: (l) => void lines.push(l) });
    expect([out.runner, out.timedOut]).toEqual(['spawner', true]);
    expect(lines).toEqual(['going to sleep']);
    const child = Number(readFileSync(`${bin}/hang.child`, 'utf8'));
    expect(await settle(() => !isRunning(child), 3000)).toBe(true);
  });

  it('lifeline: when Node dies, cgi-spawner goes with it', async () => {
    const mod = (m: string) => JSON.stringify(join(__dirname, '..', m));
    const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', `
      const { loadConfig } = require(${mod('handler/config')});
      const { createLogger } = require(${mod('handler/log')});
      const { createRunner } = require(${mod('handler/process/select')});
      setInterval(() => {}, 1000);
      const r = createRunner(loadConfig({ PATH: process.env.PATH, CGI_ROOT: ${JSON.stringify(bin)}, CGI_PERL_WORKER: 'off' }), createLogger('json', () => {}, () => {}));
      r.spawnerReady().then(() => { console.log(r.spawnerPid()); process.kill(process.pid, 'SIGKILL'); });
    `], { encoding: 'utf8', timeout: 20_000 });
    const pid = Number(child.stdout.trim());
    expect(pid).toBeGreaterThan(1);
    expect(await settle(() => !isRunning(pid), 5000)).toBe(true);
  });
});

describe('no leaks over thousands of requests', () => {
  it('2000 requests: the server fd count and the process list stay flat', async () => {
    const script = `${P}print "Content-Type: text/plain\\n\\nhi\\n"; print STDERR "e\\n";\n`;
    writeFileSync(`${bin}/tiny.pl`, script, { mode: 0o755 });
    const pid = on.workerPids()[0];
    const fds = () => readdirSync(`/proc/${pid}/fd`).length;
    const mine = () => allProcesses().filter((p) => p.ppid === pid || p.pgrp === pid).length;
    for (let i = 0; i < 50; i++) await on.run(jobFor('tiny.pl', { script }));
    const before = { fds: fds(), procs: mine() };
    let served = 0;
    for (let i = 0; i < 2000; i++) {
      const jobs = [on.run(jobFor('tiny.pl', { script })), on.run(jobFor('tiny.pl', { script }))];
      for (const out of await Promise.all(jobs)) if (out.runner === 'perl-worker' && out.exitCode === 0) served++;
      i++;
    }
    expect(served).toBe(2000);
    expect(await settle(() => fds() === before.fds && mine() === before.procs, 3000)).toBe(true);
  }, 300_000);
});

describe('npm run perl-modules', () => {
  it('prints the modules a script loads, marks the never-preloaded ones, and suggests CGI_PERL_PRELOAD', () => {
    writeFileSync(`${bin}/mods.pl`, `${P}use strict; use CGI qw(:standard); use POSIX (); use FindBin; use lib "$FindBin::Bin/lib"; use Greeting;\nprint header, escapeHTML('<');\n`, { mode: 0o755 });
    const out = spawnSync(process.execPath, [join(__dirname, '../scripts/perl-modules.mjs'), `${bin}/mods.pl`], { encoding: 'utf8' });
    expect(out.status).toBe(0);
    expect(out.stdout).toContain('  HTML::Entities\n');
    expect(out.stdout).toContain('  FindBin (never preloaded)\n');
    expect(out.stdout).toMatch(/ {2}Greeting \(found through use lib/);
    const line = /CGI_PERL_PRELOAD=(.*)/.exec(out.stdout)![1].split(',');
    expect(line).toEqual(expect.arrayContaining(['CGI', 'CGI::Util', 'HTML::Entities', 'POSIX']));
    expect(line).not.toContain('FindBin');
    expect(line).not.toContain('strict');
  });
});

describe('preloading', () => {
  it('refuses CGI::Carp and FindBin with a log line, and says when a module cannot be loaded', async () => {
    const lines: string[] = [];
    const cfg = loadConfig({ PATH: process.env.PATH, CGI_ROOT: bin, CGI_PERL_PRELOAD: 'CGI,CGI::Carp,FindBin,No::Such::Thing' });
    const r = createRunner(cfg, createLogger('json', () => {}, (s) => void lines.push(s)));
    expect(await r.whenReady()).toBe(true);
    const messages = jsonLines(lines).map((l) => l.message);
    expect(messages).toEqual(expect.arrayContaining([
      expect.stringMatching(/preload CGI::Carp refused: .*never preloaded/),
      expect.stringMatching(/preload FindBin refused/),
      expect.stringMatching(/preload No::Such::Thing failed: Can't locate No\/Such\/Thing\.pm/),
    ]));
    // And the scripts still run as under perl.
    const name = 'carp-fatals-runtime.pl';
    const job = jobFor(name, CORPUS[name], cfg);
    const out = await r.run(job);
    expect(out.runner).toBe('perl-worker');
    expect(out.stdout.toString()).toContain('runtime boom');
  });
});

afterAll(() => shutdownPerlWorkers());
