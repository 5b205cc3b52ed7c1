/**
 * Running the script: no shell, stdin, stderr, interpreters, timeouts with
 * process-group kills, leftovers, limits. Real processes throughout; pids are
 * checked in /proc.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { albEvent, answerOf, httpApiEvent, restEvent, type Answer } from './support/events';
import {
  childrenOfThisProcess, expectErrorPage, isRunning, jsonLines, liveInGroups, prng, procStat, randomBytes,
  readPids, settle,
} from './support/processes';
import { cleanup, compileC, harness, makeTree, type Harness } from './support/site';

const ARGS_SH = `#!/bin/sh
printf 'Content-Type: text/plain\\n\\n'
for a in "$@"; do printf '[%s]\\n' "$a"; done
`;

const ECHO_PL = `#!/usr/bin/perl
use strict;
binmode STDIN;
binmode STDOUT;
local $/;
my $in = <STDIN>;
$in = '' unless defined $in;
print "Content-Type: application/octet-stream\\nX-Length: ", length($in), "\\n\\n", $in;
`;

const NO_READ_SH = `#!/bin/sh
printf 'Content-Type: text/plain\\n\\nignored your body\\n'
`;

const STDERR_SH = `#!/bin/sh
echo "first stderr line" >&2
printf 'Content-Type: text/plain\\n\\nbody only\\n'
printf 'second stderr line\\nthird\\n' >&2
`;

const SLEEPER_SH = `#!/bin/sh
sleep 60 &
echo "$$ $!" > sleeper.pids
exec sleep 60
`;

const BACKGROUND_SH = `#!/bin/sh
sleep 30 >/dev/null 2>&1 &
echo "$$ $!" > background.pids
printf 'Content-Type: text/plain\\n\\nleft a child\\n'
`;

const SUBSHELL_SH = `#!/bin/sh
(sleep 30 & echo "$$ $!" > subshell.pids)
printf 'Content-Type: text/plain\\n\\nleft a grandchild\\n'
`;

const GROUP_SH = `#!/bin/sh
printf 'Content-Type: text/plain\\n\\n'
read -r _pid _comm _state _ppid pgrp _rest < /proc/$$/stat
echo "pid=$$ pgrp=$pgrp cwd=$(pwd)"
`;

const PERL_REMAP = `#!/nonexistent/perl
print "Content-Type: text/plain\\n\\nperl=$^X warn=", ($^W ? 1 : 0), "\\n";
`;
const PERL_REMAP_W = `#!/nonexistent/perl -w
print "Content-Type: text/plain\\n\\nperl=$^X warn=", ($^W ? 1 : 0), "\\n";
`;
const PERL_FALLBACK = `#!/usr/local/nowhere/perl
print "Content-Type: text/plain\\n\\nfallback perl ok\\n";
`;
const PERL_W = `#!/usr/bin/perl -w
print "Content-Type: text/plain\\n\\nwarn=", ($^W ? 1 : 0), "\\n";
`;
const PERL_EXT = `print "Content-Type: text/plain\\n\\nrun by extension\\n";
`;

const HELLO_C = `#include <stdio.h>
#include <stdlib.h>
int main(void) {
  const char *m = getenv("REQUEST_METHOD");
  const char *q = getenv("QUERY_STRING");
  printf("Content-Type: text/plain\\r\\n\\r\\nC says %s %s\\n", m ? m : "-", q ? q : "-");
  return 0;
}
`;

/** Writes n bytes of a repeating pattern after the headers. */
const BIG_C = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
  const char *q = getenv("QUERY_STRING");
  long n = q ? atol(q) : 0;
  static char buf[65536];
  for (int i = 0; i < (int)sizeof buf; i++) buf[i] = (char)(i * 7);
  fputs("Content-Type: application/octet-stream\\r\\n\\r\\n", stdout);
  while (n > 0) {
    long k = n < (long)sizeof buf ? n : (long)sizeof buf;
    if (fwrite(buf, 1, k, stdout) != (size_t)k) return 1;
    n -= k;
  }
  return 0;
}
`;

const MARKER_SH = (marker: string) => `#!/bin/sh
touch ${marker}
printf 'Content-Type: text/plain\\n\\nran\\n'
`;

describe('running CGI programs', () => {
  let root: string;
  let bin: string;
  let h: Harness;
  const groups: number[] = [];

  beforeAll(() => {
    root = makeTree({
      'cgi-bin/args.sh': ARGS_SH,
      'cgi-bin/a;touch PWNED1;.sh': ARGS_SH,
      'cgi-bin/$(touch PWNED2).sh': ARGS_SH,
      'cgi-bin/`touch PWNED3`.sh': ARGS_SH,
      'cgi-bin/echo.pl': ECHO_PL,
      'cgi-bin/noread.sh': NO_READ_SH,
      'cgi-bin/stderr.sh': STDERR_SH,
      'cgi-bin/sleeper.sh': SLEEPER_SH,
      'cgi-bin/background.sh': BACKGROUND_SH,
      'cgi-bin/subshell.sh': SUBSHELL_SH,
      'cgi-bin/sub/group.sh': GROUP_SH,
      'cgi-bin/remap.pl': PERL_REMAP,
      'cgi-bin/remap-w.pl': PERL_REMAP_W,
      'cgi-bin/fallback.pl': PERL_FALLBACK,
      'cgi-bin/warn.pl': PERL_W,
      'cgi-bin/byext.pl': { content: PERL_EXT, mode: 0o644 },
      'cgi-bin/noexec.sh': { content: MARKER_SH('NOEXEC_RAN'), mode: 0o644 },
      'cgi-bin/upload.sh': MARKER_SH('UPLOAD_RAN'),
      'cgi-bin/garbage': randomBytes(prng(7), 4096),
      'cgi-bin/noshebang': `touch RAN_BY_SH\nprintf 'Content-Type: text/plain\\n\\nrun by /bin/sh\\n'\n`,
    });
    bin = `${root}/cgi-bin`;
    compileC(HELLO_C, `${bin}/hello.cgi`);
    compileC(BIG_C, `${bin}/big.cgi`);
    h = harness({
      CGI_ROOT: bin,
      CGI_TIMEOUT_MS: '10000',
      CGI_INTERPRETERS: '/nonexistent/perl=/usr/bin/perl,.pl=/usr/bin/perl',
    });
  });
  afterAll(() => cleanup(root));
  beforeEach(() => h.clearLogs());

  const invoke = async (event: Record<string, any>, id = 'req-proc'): Promise<Answer> => answerOf(await h.invoke(event, { awsRequestId: id }));
  const get = (path: string, query?: string, id?: string) => invoke(httpApiEvent({ path, query }), id);
  const errors = (hh = h) => jsonLines(hh.err).filter((l) => l.level === 'error');

  describe('no shell', () => {
    it('ISINDEX words become argv, never shell syntax', async () => {
      const res = await get('/cgi-bin/args.sh', '%3Btouch+X');
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('[;touch]\n[X]\n');
      const res2 = await get('/cgi-bin/args.sh', '%24%28touch+Y%29+%60touch+Z%60+%26%26+rm');
      expect(res2.body.toString()).toBe('[$(touch]\n[Y)]\n[`touch]\n[Z`]\n[&&]\n[rm]\n');
      for (const f of ['X', 'Y)', 'Y', 'Z', 'Z`']) expect(existsSync(`${bin}/${f}`)).toBe(false);
    });

    it('a query with "=" passes no arguments', async () => {
      const res = await get('/cgi-bin/args.sh', 'a=%3Btouch+X');
      expect(res.body.toString()).toBe('');
    });

    it('script names holding ; $( ) and backquotes are executed as files, not commands', async () => {
      for (const name of ['a;touch PWNED1;.sh', '$(touch PWNED2).sh', '`touch PWNED3`.sh']) {
        const res = await get(`/cgi-bin/${encodeURIComponent(name)}`, 'w1+w2');
        expect(res.status).toBe(200);
        expect(res.body.toString()).toBe('[w1]\n[w2]\n');
      }
      const made = readdirSync(bin).filter((f) => /^PWNED\d$/.test(f));
      expect(made).toEqual([]);
      expect(existsSync(`${root}/PWNED1`) || existsSync('PWNED1') || existsSync('PWNED2')).toBe(false);
    });

    it('runs in the script\'s directory, in a process group of its own', async () => {
      const res = await get('/cgi-bin/sub/group.sh');
      const m = /^pid=(\d+) pgrp=(\d+) cwd=(.*)\n$/.exec(res.body.toString());
      expect(m).not.toBeNull();
      expect(m![2]).toBe(m![1]);
      expect(m![3]).toBe(`${bin}/sub`);
    });

    it('a file with the exec bit but no #! and no binary format is not handed to /bin/sh', async () => {
      const res = await get('/cgi-bin/noshebang', undefined, 'req-noshebang');
      expectErrorPage(res, 500, ['run by /bin/sh']);
      expect(existsSync(`${bin}/RAN_BY_SH`)).toBe(false);
      const e = errors();
      expect(e).toHaveLength(1);
      expect(e[0].requestId).toBe('req-noshebang');
      expect(e[0].message).toMatch(/cannot execute|exec format|ENOEXEC/i);
    });
  });

  describe('stdin and stderr', () => {
    it('stdin gets the exact body and is closed (Perl reads to EOF)', async () => {
      const body = randomBytes(prng(42), 200_000);
      const res = await invoke(httpApiEvent({ method: 'POST', path: '/cgi-bin/echo.pl', body, headers: { 'content-type': 'application/octet-stream' } }));
      expect(res.status).toBe(200);
      expect(res.headers['x-length']).toEqual(['200000']);
      expect(res.body.equals(body)).toBe(true);
    });

    it('a 1.5 MB binary body (kept base64 until stdin takes it) arrives exact', async () => {
      const body = randomBytes(prng(43), 1_500_000);
      const res = await invoke(httpApiEvent({ method: 'POST', path: '/cgi-bin/echo.pl', body, headers: { 'content-type': 'application/octet-stream' } }));
      expect([res.status, res.headers['x-length']]).toEqual([200, ['1500000']]);
      expect(res.body.equals(body)).toBe(true);
    });

    it('a script that never reads a 2 MB binary body still answers 200', async () => {
      const body = randomBytes(prng(44), 2 * 1024 * 1024);
      const res = await invoke(httpApiEvent({ method: 'POST', path: '/cgi-bin/noread.sh', body, headers: { 'content-type': 'application/octet-stream' } }), 'req-noread-bin');
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('ignored your body\n');
      expect(errors()).toEqual([]);
    });

    it('a request without a body gives the script an empty, closed stdin', async () => {
      const res = await get('/cgi-bin/echo.pl');
      expect(res.status).toBe(200);
      expect(res.headers['x-length']).toEqual(['0']);
      expect(res.body.length).toBe(0);
    });

    it('a script that never reads a 2 MB body still answers 200', async () => {
      const body = Buffer.alloc(2 * 1024 * 1024, 0x61);
      const res = await invoke(restEvent({ method: 'POST', path: '/cgi-bin/noread.sh', body: body.toString(), headers: { 'content-type': 'text/plain' } }), 'req-noread');
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('ignored your body\n');
      expect(errors()).toEqual([]);
    });

    it('stderr lines are logged with the request id and never reach the client', async () => {
      const res = await get('/cgi-bin/stderr.sh', undefined, 'req-stderr');
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('body only\n');
      const lines = jsonLines(h.err).filter((l) => l.type === 'stderr');
      expect(lines.map((l) => l.message)).toEqual(['first stderr line', 'second stderr line', 'third']);
      for (const l of lines) {
        expect(l.requestId).toBe('req-stderr');
        expect(l.script).toBe('/cgi-bin/stderr.sh');
      }
    });
  });

  describe('interpreters', () => {
    it('CGI_INTERPRETERS remaps a missing shebang interpreter', async () => {
      const res = await get('/cgi-bin/remap.pl');
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('perl=/usr/bin/perl warn=0\n');
    });

    it('a remapped shebang keeps its argument (-w)', async () => {
      const res = await get('/cgi-bin/remap-w.pl');
      expect(res.body.toString()).toBe('perl=/usr/bin/perl warn=1\n');
    });

    it('an unmapped missing interpreter falls back to the same name on PATH', async () => {
      const h2 = harness({ CGI_ROOT: bin, CGI_TIMEOUT_MS: '10000' });
      const res = answerOf(await h2.invoke(httpApiEvent({ path: '/cgi-bin/fallback.pl' })));
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('fallback perl ok\n');
    });

    it('a shebang with an argument keeps it', async () => {
      const res = await get('/cgi-bin/warn.pl');
      expect(res.body.toString()).toBe('warn=1\n');
    });

    it('a mapped extension runs through its interpreter without the exec bit', async () => {
      const res = await get('/cgi-bin/byext.pl');
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('run by extension\n');
    });

    it('an interpreter that exists nowhere: 500, and the log says which one and how to fix it', async () => {
      const h2 = harness({ CGI_ROOT: bin, CGI_TIMEOUT_MS: '10000', PATH: '/nonexistent-bin' });
      const res = answerOf(await h2.invoke(httpApiEvent({ path: '/cgi-bin/remap.pl' }), { awsRequestId: 'req-nointerp' }));
      expectErrorPage(res, 500);
      const e = jsonLines(h2.err).filter((l) => l.level === 'error');
      expect(e).toHaveLength(1);
      expect(e[0].message).toMatch(/interpreter \/nonexistent\/perl not found.*Perl layer/);
    });

    it('a shebang ending in CR (Windows line endings): 500, and the log says so, not ENOENT', async () => {
      const h2 = harness({ CGI_ROOT: bin, CGI_TIMEOUT_MS: '10000' });
      writeFileSync(`${bin}/crlf.sh`, '#!/bin/sh\r\nprintf "Content-Type: text/plain\\r\\n\\r\\nok"\r\n', { mode: 0o755 });
      const res = answerOf(await h2.invoke(httpApiEvent({ path: '/cgi-bin/crlf.sh' }), { awsRequestId: 'req-crlf' }));
      expectErrorPage(res, 500);
      const e = jsonLines(h2.err).filter((l) => l.level === 'error');
      expect(e).toHaveLength(1);
      expect(e[0].message).toContain('interpreter `/bin/sh\\r` not found: the file has Windows line endings');
      expect(e[0].message).not.toMatch(/ENOENT/);
    });

    it('a CRLF Perl script whose interpreter is remapped still runs (perl reads CRLF)', async () => {
      writeFileSync(`${bin}/crlf-perl.cgi`, '#!/nonexistent/perl\r\nprint "Content-Type: text/plain\\n\\nok\\n";\r\n', { mode: 0o755 });
      const res = await get('/cgi-bin/crlf-perl.cgi');
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('ok\n');
    });

    it('an edited script is picked up on the next request, new interpreter included', async () => {
      const file = `${bin}/edited.cgi`;
      writeFileSync(file, '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\nsh version\\n"\n', { mode: 0o755 });
      expect((await get('/cgi-bin/edited.cgi')).body.toString()).toBe('sh version\n');
      writeFileSync(file, '#!/nonexistent/perl\nprint "Content-Type: text/plain\\n\\nperl version\\n";\n');
      expect((await get('/cgi-bin/edited.cgi')).body.toString()).toBe('perl version\n');
    });

    it('a C program compiled here works', async () => {
      const res = await get('/cgi-bin/hello.cgi', 'a=1&b=2');
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('C says GET a=1&b=2\n');
    });
  });

  describe('refusals', () => {
    it('a script without the exec bit is refused 403 and never runs', async () => {
      const res = await get('/cgi-bin/noexec.sh', undefined, 'req-noexec');
      expectErrorPage(res, 403);
      expect(existsSync(`${bin}/NOEXEC_RAN`)).toBe(false);
      const warn = jsonLines(h.err).find((l) => l.level === 'warn');
      expect(warn?.message).toMatch(/not executable/);
    });

    it('garbage bytes with the exec bit: 500 with a log line saying it cannot be executed', async () => {
      const res = await get('/cgi-bin/garbage', undefined, 'req-garbage');
      expectErrorPage(res, 500);
      const e = errors();
      expect(e).toHaveLength(1);
      expect(e[0].requestId).toBe('req-garbage');
      expect(e[0].script).toBe('/cgi-bin/garbage');
      expect(e[0].message).toMatch(/cannot execute|exec format|ENOEXEC/i);
    });

    it('a body over CGI_MAX_BODY_BYTES is refused 413 and the script never starts', async () => {
      const h2 = harness({ CGI_ROOT: bin, CGI_MAX_BODY_BYTES: '1000' });
      const over = answerOf(await h2.invoke(httpApiEvent({ method: 'POST', path: '/cgi-bin/upload.sh', body: 'x'.repeat(1001) })));
      expectErrorPage(over, 413);
      expect(existsSync(`${bin}/UPLOAD_RAN`)).toBe(false);
      const exact = answerOf(await h2.invoke(httpApiEvent({ method: 'POST', path: '/cgi-bin/upload.sh', body: 'x'.repeat(1000) })));
      expect(exact.status).toBe(200);
      expect(existsSync(`${bin}/UPLOAD_RAN`)).toBe(true);
    });
  });

  describe('output beyond the front door payload', () => {
    it('ALB (1 MB): 1.5 MB of output is a 502 with a clear log line', async () => {
      const res = await invoke(albEvent({ path: '/cgi-bin/big.cgi', query: String(1.5 * 1024 * 1024) }, { multi: false }), 'req-alb-big');
      expectErrorPage(res, 502);
      expect(res.raw.statusDescription).toBe('502 Bad Gateway');
      const e = errors();
      expect(e).toHaveLength(1);
      expect(e[0].requestId).toBe('req-alb-big');
      expect(e[0].script).toBe('/cgi-bin/big.cgi');
      expect(e[0].message).toMatch(/exceeds/);
    });

    it('ALB: 900 KB of binary fits the pipe but not the payload once base64: 502 naming the limit', async () => {
      const res = await invoke(albEvent({ path: '/cgi-bin/big.cgi', query: String(900 * 1024) }, { multi: true }), 'req-alb-b64');
      expectErrorPage(res, 502);
      const e = errors();
      expect(e).toHaveLength(1);
      expect(e[0].message).toMatch(/ALB payload limit of 1048576 bytes/);
    });

    it('ALB: 700 KB of binary still fits', async () => {
      const res = await invoke(albEvent({ path: '/cgi-bin/big.cgi', query: String(700 * 1024) }, { multi: true }));
      expect(res.status).toBe(200);
      expect(res.body.length).toBe(700 * 1024);
    });

    it('API Gateway and Function URLs (6 MB): 7 MB of output is a 502', async () => {
      for (const ev of [
        restEvent({ path: '/cgi-bin/big.cgi', query: String(7 * 1024 * 1024) }),
        httpApiEvent({ path: '/cgi-bin/big.cgi', query: String(7 * 1024 * 1024) }),
      ]) {
        h.clearLogs();
        const res = await invoke(ev, 'req-6mb');
        expectErrorPage(res, 502);
        expect(errors()).toHaveLength(1);
        expect(errors()[0].message).toMatch(/exceeds/);
      }
    });

    it('API Gateway: 5 MB of binary is over 6 MB once base64: 502', async () => {
      const res = await invoke(httpApiEvent({ path: '/cgi-bin/big.cgi', query: String(5 * 1024 * 1024) }));
      expectErrorPage(res, 502);
      expect(errors()[0].message).toMatch(/payload limit of 6291456 bytes/);
    });
  });

  describe('timeouts and leftovers', () => {
    it('a script that sleeps is killed with its whole process group: 504', async () => {
      const th = harness({ CGI_ROOT: bin, CGI_TIMEOUT_MS: '400' });
      const res = answerOf(await th.invoke(httpApiEvent({ path: '/cgi-bin/sleeper.sh' }), { awsRequestId: 'req-timeout' }));
      expectErrorPage(res, 504);
      const e = errors(th);
      expect(e).toHaveLength(1);
      expect(e[0].requestId).toBe('req-timeout');
      expect(e[0].message).toMatch(/timed out/);
      const pids = readPids(`${bin}/sleeper.pids`);
      expect(pids).toHaveLength(2);
      groups.push(pids[0]);
      expect(await settle(() => pids.every((p) => !isRunning(p)))).toBe(true);
      for (const p of pids) expect(procStat(p)?.ppid === process.pid).toBe(false);
      expect(liveInGroups([pids[0]])).toEqual([]);
      const access = jsonLines(th.out);
      expect(access).toHaveLength(1);
      expect(access[0].status).toBe(504);
    });

    it('a background child left by a finished script does not survive', async () => {
      const res = await get('/cgi-bin/background.sh');
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('left a child\n');
      const [script, child] = readPids(`${bin}/background.pids`);
      groups.push(script);
      expect(await settle(() => !isRunning(child))).toBe(true);
      expect(liveInGroups([script])).toEqual([]);
    });

    it('a grandchild from a subshell (sleep 30 &) does not survive either', async () => {
      const res = await get('/cgi-bin/subshell.sh');
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('left a grandchild\n');
      const [script, child] = readPids(`${bin}/subshell.pids`);
      groups.push(script);
      expect(await settle(() => !isRunning(child))).toBe(true);
      expect(liveInGroups([script])).toEqual([]);
    });

    it('after a batch of requests no child process of this worker is left, and the killed groups are empty', async () => {
      // Only what this batch starts: earlier suites in this jest worker may have left servers of their own.
      const before = new Set(childrenOfThisProcess().map((p) => p.pid));
      const newChildren = () => childrenOfThisProcess().filter((p) => !before.has(p.pid));
      const th = harness({ CGI_ROOT: bin, CGI_TIMEOUT_MS: '400' });
      const paths = ['/cgi-bin/background.sh', '/cgi-bin/subshell.sh', '/cgi-bin/hello.cgi', '/cgi-bin/stderr.sh', '/cgi-bin/sleeper.sh'];
      const statuses: number[] = [];
      for (let round = 0; round < 3; round++) {
        for (const path of paths) {
          statuses.push(answerOf(await th.invoke(httpApiEvent({ path }))).status);
          const file = { '/cgi-bin/background.sh': 'background', '/cgi-bin/subshell.sh': 'subshell', '/cgi-bin/sleeper.sh': 'sleeper' }[path];
          if (file !== undefined) groups.push(readPids(`${bin}/${file}.pids`)[0]);
        }
      }
      expect(statuses).toEqual([200, 200, 200, 200, 504, 200, 200, 200, 200, 504, 200, 200, 200, 200, 504]);
      // Concurrent requests too.
      const parallel = await Promise.all(Array.from({ length: 8 }, (_, i) => th.invoke(httpApiEvent({ path: paths[i % 3] }))));
      expect(parallel.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200, 200, 200, 200]);
      expect(await settle(() => newChildren().length === 0 && liveInGroups(groups).length === 0)).toBe(true);
      expect(newChildren()).toEqual([]);
      expect(liveInGroups(groups)).toEqual([]);
    });
  });
});
