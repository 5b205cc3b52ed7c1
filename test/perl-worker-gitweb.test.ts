/**
 * gitweb (Debian's, 8,000 lines of CGI.pm and git subprocesses) over a real
 * repository, through the whole handler three ways: plain spawn, the Perl
 * worker, and the worker with gitweb precompiled. Every page must be byte for
 * byte the same. Also: precompiling a script that does not compile.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { answerOf, httpApiEvent } from './support/events';
import { jsonLines } from './support/processes';
import { cleanup, harness, makeTree, type Harness } from './support/site';

const GITWEB = '/usr/share/gitweb/gitweb.cgi';

let root: string;
let spawnSite: Harness;
let spawnerSite: Harness;
let workerSite: Harness;
let precompiledSite: Harness;

function git(cwd: string, ...args: string[]) {
  execFileSync('git', args, {
    cwd,
    env: {
      PATH: process.env.PATH,
      HOME: cwd,
      GIT_AUTHOR_NAME: 'Ann Author', GIT_AUTHOR_EMAIL: 'ann@example.com', GIT_AUTHOR_DATE: '2020-02-03T04:05:06Z',
      GIT_COMMITTER_NAME: 'Ann Author', GIT_COMMITTER_EMAIL: 'ann@example.com', GIT_COMMITTER_DATE: '2020-02-03T04:05:06Z',
    },
    stdio: 'pipe',
  });
}

beforeAll(async () => {
  root = makeTree({
    'cgi-bin/begin-time.pl': '#!/usr/bin/perl\nmy $q; BEGIN { $q = $ENV{QUERY_STRING} // "unset" }\nprint "Content-Type: text/plain\\n\\nbegin=$q run=$ENV{QUERY_STRING}\\n";\n',
    'cgi-bin/broken.pl': '#!/usr/bin/perl\nuse strict;\nprint "Content-Type: text/plain\\n\\n" . $nope;\n' });
  const bin = join(root, 'cgi-bin');
  copyFileSync(GITWEB, join(bin, 'gitweb.cgi'));
  const work = join(root, 'work');
  mkdirSync(work);
  git(work, 'init', '-q', '-b', 'main');
  writeFileSync(join(work, 'README'), 'A project.\n');
  writeFileSync(join(work, 'data.bin'), Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 31) % 256)));
  git(work, 'add', '.');
  git(work, 'commit', '-q', '-m', 'First commit');
  writeFileSync(join(work, 'README'), 'A project.\nWith <html> & "quotes".\n');
  git(work, 'commit', '-q', '-am', 'Second commit: escaping <b>');
  mkdirSync(join(root, 'repos'));
  git(root, 'clone', '-q', '--bare', work, join(root, 'repos', 'project.git'));
  const conf = join(root, 'gitweb.conf');
  writeFileSync(conf, `$projectroot = "${root}/repos";\n$feature{'snapshot'}{'default'} = ['tgz', 'zip'];\n`);
  const env = { CGI_ROOT: bin, CGI_TIMEOUT_MS: '30000', CGI_ENV_GITWEB_CONFIG_SYSTEM: conf, CGI_ENV_GITWEB_CONFIG: join(root, 'none.conf') };
  spawnSite = harness({ ...env, CGI_PERL_WORKER: 'off', CGI_SPAWNER: 'off' });
  spawnerSite = harness({ ...env, CGI_PERL_WORKER: 'off' });
  workerSite = harness({ ...env, CGI_PERL_WORKER: 'on' });
  precompiledSite = harness({ ...env, CGI_PERL_WORKER: 'on', CGI_PERL_PRECOMPILE: 'gitweb.cgi,broken.pl,begin-*.pl' });
}, 60_000);
afterAll(() => cleanup(root));

const PAGES: Record<string, string> = {
  'project list': '',
  summary: 'p=project.git;a=summary',
  log: 'p=project.git;a=log',
  shortlog: 'p=project.git;a=shortlog',
  commit: 'p=project.git;a=commit;h=HEAD',
  tree: 'p=project.git;a=tree',
  'blob (HTML)': 'p=project.git;a=blob;f=README;hb=HEAD',
  blob_plain: 'p=project.git;a=blob_plain;f=README;hb=HEAD',
  'blob_plain binary': 'p=project.git;a=blob_plain;f=data.bin;hb=HEAD',
  'snapshot tgz': 'p=project.git;a=snapshot;h=HEAD;sf=tgz',
  'snapshot zip': 'p=project.git;a=snapshot;h=HEAD;sf=zip',
  'atom feed': 'p=project.git;a=atom',
  'unknown project (404)': 'p=nope.git;a=summary',
};

async function page(site: Harness, query: string) {
  site.clearLogs();
  const res = answerOf(await site.invoke(httpApiEvent({ path: '/cgi-bin/gitweb.cgi', query })));
  const access = jsonLines(site.out).find((l) => l.type === 'access');
  return { status: res.status, headers: res.headers, body: res.body, runner: access?.runner };
}

describe('precompiling', () => {
  it('a precompiled script runs in its zygote: BEGIN-time code saw start-up, not the request (why it is opt-in)', async () => {
    const get = async (site: Harness) => answerOf(await site.invoke(httpApiEvent({ path: '/cgi-bin/begin-time.pl', query: 'abc' }))).body.toString();
    expect(await get(spawnSite)).toBe('begin=abc run=abc\n');
    expect(await get(workerSite)).toBe('begin=abc run=abc\n');
    expect(await get(precompiledSite)).toBe('begin=unset run=abc\n');
  });

  it('says in the log when a script listed for precompiling does not compile', () => {
    expect(jsonLines(precompiledSite.err).some((l) => /precompiling .*broken\.pl failed; it runs uncompiled/.test(l.message))).toBe(true);
  });

  it('a precompiled script that does not compile runs uncompiled and reproduces its error', async () => {
    const get = async (site: Harness) => {
      site.clearLogs();
      const res = answerOf(await site.invoke(httpApiEvent({ path: '/cgi-bin/broken.pl' })));
      const lines = jsonLines(site.err).filter((l) => l.type === 'stderr').map((l) => l.message);
      return { status: res.status, lines, runner: jsonLines(site.out).find((l) => l.type === 'access')?.runner };
    };
    const plain = await get(spawnSite);
    const pre = await get(precompiledSite);
    expect(plain.status).toBe(500);
    expect(plain.lines.join('\n')).toMatch(/Global symbol "\$nope" requires explicit package name/);
    expect(pre).toEqual({ ...plain, runner: 'perl-worker' });
  });
});

describe('gitweb pages are byte-identical through spawn, cgi-spawner, the worker and a precompiled zygote', () => {
  it.each(Object.keys(PAGES))('%s', async (name) => {
    const plain = await page(spawnSite, PAGES[name]);
    const spawner = await page(spawnerSite, PAGES[name]);
    const worker = await page(workerSite, PAGES[name]);
    const precompiled = await page(precompiledSite, PAGES[name]);
    expect([plain.runner, spawner.runner, worker.runner, precompiled.runner]).toEqual(['spawn', 'spawner', 'perl-worker', 'perl-worker']);
    expect(plain.status).toBe(name.includes('404') ? 404 : 200);
    expect(plain.body.length).toBeGreaterThan(name.includes('404') ? 100 : 30);
    for (const other of [spawner, worker, precompiled]) {
      expect(other.status).toBe(plain.status);
      expect(other.headers).toEqual(plain.headers);
      expect(other.body.equals(plain.body)).toBe(true);
    }
  });

  it('the pages are the real thing', async () => {
    const summary = (await page(workerSite, PAGES.summary)).body.toString();
    expect(summary).toContain('Second commit: escaping &lt;b&gt;');
    const tgz = (await page(precompiledSite, PAGES['snapshot tgz'])).body;
    expect(tgz.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))).toBe(true);
  });
});
