/**
 * Write failures that explain themselves. The site is really read-only: a
 * read-only bind mount of it (`mount --bind -o ro`) in a private mount
 * namespace (`unshare -m`), so the script's write gets a real EROFS from the
 * kernel, as on Lambda's /opt; and a non-root uid (`setpriv`) that cannot write a
 * root-owned directory, for EACCES. The handler is the bundle in its own
 * process (npm run build first); these tests need root, as CI has.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { httpApiEvent } from './support/events';
import { runHandlerProcess } from './support/handler-process';
import { cleanup, makeTree } from './support/site';
import { pathInLine } from '../handler/diagnose';

const COUNTER_PL = `#!/usr/bin/perl
use strict;
use warnings;
my $file = 'data/count.txt';
open my $fh, '>', $file or die "cannot write $file: $!\\n";
print $fh "1\\n";
close $fh;
print "Content-Type: text/plain\\n\\n1\\n";
`;
// Headers first, then the write fails: a complete response and a non-zero exit.
const GUESTBOOK_SH = `#!/bin/sh
printf 'Content-Type: text/plain\\n\\nthanks\\n'
echo "entry" >> data/guestbook.txt || exit 2
`;
const LOGS_PL = `#!/usr/bin/perl
open my $fh, '>>', 'logs/app.log' or die "cannot append to logs/app.log: $!\\n";
print "Content-Type: text/plain\\n\\nok\\n";
`;
const MISSING_READ_PL = `#!/usr/bin/perl
open my $fh, '<', 'data/nope.txt' or die "cannot read data/nope.txt: $!\\n";
`;

const errorLines = (stderr: string) =>
  stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((l) => l.level === 'error');

describe('a script that writes into the read-only site: the log says where, why, and the fix', () => {
  let site: string;
  const env = () => ({ IS_OFFLINE: 'true', CGI_OFFLINE_LAYER_DIR: site, CGI_LOG_FORMAT: 'json' });
  const get = (path: string) => httpApiEvent({ path });
  const readOnly = () => ['unshare', '-m', 'sh', '-c', `mount --bind -o ro "$0" "$0" && exec "$@"`, site];

  beforeAll(() => {
    site = makeTree({
      'cgi-bin/counter.pl': COUNTER_PL,
      'cgi-bin/guestbook.sh': GUESTBOOK_SH,
      'cgi-bin/logs.pl': LOGS_PL,
      'cgi-bin/missing-read.pl': MISSING_READ_PL,
      'htdocs/index.html': { content: 'hi', mode: 0o644 },
    });
    chmodSync(site, 0o755); // enterable by the non-root uid below
    mkdirSync(`${site}/cgi-bin/data`);
    chmodSync(`${site}/cgi-bin/data`, 0o755);
  });
  afterAll(() => cleanup(site));

  it('EROFS from a real read-only mount: Perl dies on open, the answer is 500, the log names the path, /opt and the fix', async () => {
    const run = await runHandlerProcess(env(), [get('/cgi-bin/counter.pl')], readOnly());
    expect(run.answers[0].status).toBe(500);
    // The kernel said it, in the script's own words.
    expect(run.stderr).toContain('cannot write data/count.txt: Read-only file system');
    const diagnosis = errorLines(run.stderr).find((l) => l.message.startsWith('script could not write'));
    expect(diagnosis).toMatchObject({ script: '/cgi-bin/counter.pl', requestId: 'req-0' });
    expect(diagnosis!.message).toContain(`script could not write ${site}/cgi-bin/data/count.txt: the file system is read-only`);
    expect(diagnosis!.message).toContain('the site layer under /opt is read-only');
    expect(diagnosis!.message).toContain('CGI_WRITABLE=cgi-bin/data');
    expect(diagnosis!.message).toContain('efsAccessPoint');
    expect(run.answers[0].body.toString()).not.toContain(site);
  }, 30_000);

  it('EROFS after complete headers (dash, non-zero exit): the page is kept and the failure explained', async () => {
    const run = await runHandlerProcess(env(), [get('/cgi-bin/guestbook.sh')], readOnly());
    expect(run.answers[0].status).toBe(200);
    expect(run.stderr).toMatch(/cannot create data\/guestbook.txt: Read-only file system/);
    const diagnosis = errorLines(run.stderr).find((l) => l.message.startsWith('script could not write'));
    expect(diagnosis?.message).toContain(`${site}/cgi-bin/data/guestbook.txt: the file system is read-only`);
  }, 30_000);

  it('EACCES as a non-root uid in a directory it cannot write: the same advice', async () => {
    const run = await runHandlerProcess(env(), [get('/cgi-bin/counter.pl')], ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
    expect(run.answers[0].status).toBe(500);
    expect(run.stderr).toContain('cannot write data/count.txt: Permission denied');
    const diagnosis = errorLines(run.stderr).find((l) => l.message.startsWith('script could not write'));
    expect(diagnosis?.message).toContain(`${site}/cgi-bin/data/count.txt: permission denied`);
    expect(diagnosis?.message).toContain('CGI_WRITABLE=cgi-bin/data');
  }, 30_000);

  it('a missing writable directory (ENOENT): says which directory does not exist', async () => {
    const run = await runHandlerProcess(env(), [get('/cgi-bin/logs.pl')]);
    expect(run.answers[0].status).toBe(500);
    expect(run.stderr).toContain('cannot append to logs/app.log: No such file or directory');
    const diagnosis = errorLines(run.stderr).find((l) => l.message.startsWith('script could not write'));
    expect(diagnosis?.message).toContain(`script could not write ${site}/cgi-bin/logs/app.log: the directory ${site}/cgi-bin/logs does not exist`);
    expect(diagnosis?.message).toContain('CGI_WRITABLE=cgi-bin/logs');
  }, 30_000);

  it('no explanation when the failure is something else: a missing file in an existing directory, a plain crash', async () => {
    const run = await runHandlerProcess(env(), [get('/cgi-bin/missing-read.pl')]);
    expect(run.answers[0].status).toBe(500);
    expect(errorLines(run.stderr).map((l) => l.message).filter((m) => m.startsWith('script could not write'))).toEqual([]);
  }, 30_000);
});

describe('pathInLine: the path in the error texts of Perl, PHP, dash, C and Node', () => {
  it.each([
    ['cannot write /opt/cgi-bin/data/x.log: Read-only file system at ./x.pl line 5.', '/opt/cgi-bin/data/x.log'],
    ['./counter.sh: 4: cannot create data/count.txt: Read-only file system', 'data/count.txt'],
    ['PHP Warning:  fopen(/opt/htdocs/hits.txt): Failed to open stream: Read-only file system in /opt/htdocs/a.php on line 3', '/opt/htdocs/hits.txt'],
    ["Error: EROFS: read-only file system, open '/opt/cgi-bin/data/s.json'", '/opt/cgi-bin/data/s.json'],
    ['fopen: /opt/cgi-bin/counter.dat: Permission denied', '/opt/cgi-bin/counter.dat'],
    ['something broke', undefined],
  ])('%s', (line, path) => {
    expect(pathInLine(line)).toBe(path);
  });
});
