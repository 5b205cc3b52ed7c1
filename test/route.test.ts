/**
 * Routing (issue 2, section 3): Apache-style walks below CGI_PREFIX, index
 * scripts, front controllers, static files, and refusals that never start a
 * process. Real files, real symlinks, real scripts.
 */
import { existsSync, mkdirSync, realpathSync, rmSync, symlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../handler/config';
import { resolveRoute } from '../handler/route';
import { albEvent, answerOf, functionUrlEvent, httpApiEvent, restEvent, type Answer, type ClientRequest, type Event } from './support/events';
import { cleanup, harness, makeTree, parseEnv0, PRINTENV_SH, type Harness } from './support/site';

/** Leaves a marker file behind: proof that a process ran. */
const MARK_SH = `#!/bin/sh
echo "$SCRIPT_NAME" >> "$MARK"
printf 'Content-Type: text/plain\\n\\nran\\n'
`;

const PERL_PL = `#!/usr/bin/perl
use strict;
print "Content-Type: text/plain\\n\\n";
print "perl $] says $ENV{SCRIPT_NAME}\\n";
`;

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0xff, 0xfe, 0x80, 0x00]);
const OLD = new Date('2020-01-01T00:00:00Z');

let root: string;
let cgi: string;
let docs: string;
let mark: string;

beforeAll(() => {
  root = makeTree({
    'cgi-bin/env.sh': PRINTENV_SH,
    'cgi-bin/nph-env.sh': PRINTENV_SH,
    'cgi-bin/sub/deeper/s.sh': PRINTENV_SH,
    'cgi-bin/app/index.cgi': PRINTENV_SH,
    'cgi-bin/plapp/index.pl': PRINTENV_SH,
    'cgi-bin/both/index.cgi': PRINTENV_SH,
    'cgi-bin/both/index.pl': MARK_SH,
    'cgi-bin/custom/main.sh': PRINTENV_SH,
    'cgi-bin/custom/index.cgi': MARK_SH,
    'cgi-bin/empty/readme.txt': { content: 'no index here\n', mode: 0o644 },
    'cgi-bin/run.sh': MARK_SH,
    'cgi-bin/.htaccess': MARK_SH,
    'cgi-bin/.git/config': MARK_SH,
    'cgi-bin/noexec.sh': { content: MARK_SH, mode: 0o644 },
    'cgi-bin/hello.pl': { content: PERL_PL, mode: 0o644 },
    'outside/secret.sh': MARK_SH,
    'outside/dir/secret.sh': MARK_SH,
    'fc/app.cgi': PRINTENV_SH,
    'htdocs/index.html': { content: '<h1>home</h1>\n', mode: 0o644 },
    'htdocs/style.css': { content: 'body { color: red }\n', mode: 0o644 },
    'htdocs/data.json': { content: '{"a":1}\n', mode: 0o644 },
    'htdocs/img.png': { content: PNG, mode: 0o644 },
    'htdocs/docs/index.html': { content: '<h1>docs</h1>\n', mode: 0o644 },
    'htdocs/.env': { content: 'SECRET=1\n', mode: 0o644 },
    'htdocs/run.sh': { content: 'static twin\n', mode: 0o644 },
  });
  cgi = join(root, 'cgi-bin');
  docs = join(root, 'htdocs');
  mark = join(root, 'marker');
  symlinkSync(join(root, 'outside/secret.sh'), join(cgi, 'out.sh'));
  symlinkSync('../outside', join(cgi, 'outdir'));
  symlinkSync('run.sh', join(cgi, 'in.sh'));
  symlinkSync('sub/deeper', join(cgi, 'indir'));
  mkdirSync(join(cgi, 'linkidx'));
  symlinkSync(join(root, 'outside/secret.sh'), join(cgi, 'linkidx/index.cgi'));
  symlinkSync(join(root, 'outside/secret.sh'), join(docs, 'leak.txt'));
  mkdirSync(join(cgi, 'bare'));
  utimesSync(join(docs, 'style.css'), OLD, OLD);
});
afterAll(() => cleanup(root));
beforeEach(() => rmSync(mark, { force: true }));

function site(extra: Record<string, string> = {}): Harness {
  return harness({ CGI_ROOT: cgi, CGI_DOCUMENT_ROOT: docs, CGI_ENV_MARK: mark, ...extra });
}

async function call(h: Harness, event: Event): Promise<Answer> {
  return answerOf(await h.invoke(event));
}

async function envOf(h: Harness, event: Event): Promise<Record<string, string>> {
  const res = await call(h, event);
  expect(res.status).toBe(200);
  return parseEnv0(res.body);
}

const get = (path: string, extra: Partial<ClientRequest> = {}) => functionUrlEvent({ path, ...extra });

describe('the Apache-style walk', () => {
  it('the first executable file is the script; the rest, decoded, is PATH_INFO', async () => {
    const env = await envOf(site(), get('/cgi-bin/env.sh/a/b%20c/d%2Be'));
    expect(env.SCRIPT_NAME).toBe('/cgi-bin/env.sh');
    expect(env.PATH_INFO).toBe('/a/b c/d+e');
    expect(env.SCRIPT_FILENAME).toBe(realpathSync(join(cgi, 'env.sh')));
  });

  it('a trailing slash stays in PATH_INFO', async () => {
    const h = site();
    expect((await envOf(h, get('/cgi-bin/env.sh/a/'))).PATH_INFO).toBe('/a/');
    expect((await envOf(h, get('/cgi-bin/env.sh/'))).PATH_INFO).toBe('/');
  });

  it('no PATH_INFO at all when the URL ends at the script', async () => {
    const env = await envOf(site(), get('/cgi-bin/env.sh'));
    expect(env.PATH_INFO).toBeUndefined();
    expect(env.PATH_TRANSLATED).toBeUndefined();
  });

  it('nested directories are walked', async () => {
    const env = await envOf(site(), get('/cgi-bin/sub/deeper/s.sh/p/q'));
    expect(env.SCRIPT_NAME).toBe('/cgi-bin/sub/deeper/s.sh');
    expect(env.PATH_INFO).toBe('/p/q');
    expect(env.SCRIPT_FILENAME).toBe(realpathSync(join(cgi, 'sub/deeper/s.sh')));
  });

  it('resolveRoute, directly', () => {
    const config = loadConfig({ CGI_ROOT: cgi, CGI_DOCUMENT_ROOT: docs });
    const route = resolveRoute(config, '/cgi-bin/sub/deeper/s.sh/x%20y/');
    expect(route).toMatchObject({ kind: 'script', scriptName: '/cgi-bin/sub/deeper/s.sh', pathInfo: '/x y/', nph: false });
    expect(resolveRoute(config, '/cgi-bin/nph-env.sh')).toMatchObject({ kind: 'script', nph: true });
    expect(resolveRoute(config, '/cgi-bin/app')).toEqual({ kind: 'slash', path: '/cgi-bin/app/' });
    expect(resolveRoute(config, '/cgi-bin/nope')).toMatchObject({ kind: 'error', status: 404 });
    expect(resolveRoute(config, 'cgi-bin/env.sh')).toMatchObject({ kind: 'error', status: 400 });
  });
});

describe('directories', () => {
  it('a directory without its trailing slash gets a 301 to it, query kept', async () => {
    const res = await call(site(), get('/cgi-bin/app', { query: 'x=1&y=a%20b' }));
    expect(res.status).toBe(301);
    expect(res.headers.location).toEqual(['/cgi-bin/app/?x=1&y=a%20b']);
    expect(res.body.toString()).toContain('href="/cgi-bin/app/?x=1&amp;y=a%20b"');
  });

  it('the 301 keeps the REST stage', async () => {
    const res = await call(site(), restEvent({ path: '/cgi-bin/app' }, { stage: 'prod' }));
    expect(res.status).toBe(301);
    expect(res.headers.location).toEqual(['/prod/cgi-bin/app/']);
  });

  it('the 301 keeps an HTTP API named stage, and re-encodes a decoded path', async () => {
    const res = await call(site(), httpApiEvent({ path: '/cgi-bin/app', query: 'q=%20' }, { stage: 'dev' }));
    expect(res.status).toBe(301);
    expect(res.headers.location).toEqual(['/dev/cgi-bin/app/?q=%20']);
  });

  it('the prefix itself redirects to its slash', async () => {
    const res = await call(site(), get('/cgi-bin'));
    expect(res.status).toBe(301);
    expect(res.headers.location).toEqual(['/cgi-bin/']);
  });

  it('with the slash: index.cgi runs', async () => {
    const env = await envOf(site(), get('/cgi-bin/app/'));
    expect(env.SCRIPT_NAME).toBe('/cgi-bin/app/index.cgi');
    expect(env.PATH_INFO).toBeUndefined();
  });

  it('index.pl when there is no index.cgi, index.cgi first when both are there', async () => {
    const h = site();
    expect((await envOf(h, get('/cgi-bin/plapp/'))).SCRIPT_NAME).toBe('/cgi-bin/plapp/index.pl');
    expect((await envOf(h, get('/cgi-bin/both/'))).SCRIPT_NAME).toBe('/cgi-bin/both/index.cgi');
    expect(existsSync(mark)).toBe(false);
  });

  it('CGI_INDEX names the index scripts', async () => {
    const h = site({ CGI_INDEX: 'main.sh' });
    expect((await envOf(h, get('/cgi-bin/custom/'))).SCRIPT_NAME).toBe('/cgi-bin/custom/main.sh');
    expect((await call(h, get('/cgi-bin/app/'))).status).toBe(403);
    expect(existsSync(mark)).toBe(false);
  });

  it('a directory without an index is 403', async () => {
    const h = site();
    expect((await call(h, get('/cgi-bin/empty/'))).status).toBe(403);
    expect((await call(h, get('/cgi-bin/bare/'))).status).toBe(403);
  });

  it('CGI_DIRECTORY_SLASH=off serves the index without a redirect', async () => {
    const h = site({ CGI_DIRECTORY_SLASH: 'off' });
    const env = await envOf(h, get('/cgi-bin/app', { query: 'x=1' }));
    expect(env.SCRIPT_NAME).toBe('/cgi-bin/app/index.cgi');
    expect(env.QUERY_STRING).toBe('x=1');
    const top = await call(h, get('/cgi-bin/sub'));
    expect(top.status).toBe(403);
  });
});

describe('CGI_ROOT naming one file: a front controller', () => {
  const fc = () => harness({ CGI_ROOT: join(root, 'fc/app.cgi'), CGI_PREFIX: '/app' });

  it('every URL under the prefix runs it, the rest of the path is PATH_INFO', async () => {
    const h = fc();
    let env = await envOf(h, get('/app/users/42/edit', { query: 'tab=2' }));
    expect(env.SCRIPT_NAME).toBe('/app');
    expect(env.PATH_INFO).toBe('/users/42/edit');
    expect(env.QUERY_STRING).toBe('tab=2');
    expect(env.SCRIPT_FILENAME).toBe(realpathSync(join(root, 'fc/app.cgi')));

    env = await envOf(h, get('/app/a%20b/'));
    expect(env.PATH_INFO).toBe('/a b/');

    env = await envOf(h, get('/app'));
    expect(env.SCRIPT_NAME).toBe('/app');
    expect(env.PATH_INFO).toBeUndefined();
  });

  it('keeps the stage in SCRIPT_NAME', async () => {
    const env = await envOf(fc(), restEvent({ path: '/app/x' }, { stage: 'prod' }));
    expect(env.SCRIPT_NAME).toBe('/prod/app');
    expect(env.PATH_INFO).toBe('/x');
  });

  it('does not claim URLs outside the prefix, nor a longer name that shares it', async () => {
    const h = fc();
    expect((await call(h, get('/application'))).status).toBe(404);
    expect((await call(h, get('/other/x'))).status).toBe(404);
  });

  it('still refuses ".." in the path', async () => {
    expect((await call(fc(), get('/app/../etc/passwd'))).status).toBe(403);
  });
});

describe('CGI_PREFIX=/ serves the scripts at the site root', () => {
  const top = () => site({ CGI_PREFIX: '/' });

  it('scripts route from the root', async () => {
    const h = top();
    let env = await envOf(h, get('/env.sh/x'));
    expect(env.SCRIPT_NAME).toBe('/env.sh');
    expect(env.PATH_INFO).toBe('/x');
    env = await envOf(h, get('/sub/deeper/s.sh'));
    expect(env.SCRIPT_NAME).toBe('/sub/deeper/s.sh');
  });

  it('an unknown path falls back to a static file of the document root', async () => {
    const h = top();
    const css = await call(h, get('/style.css'));
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toEqual(['text/css']);
    expect(css.body.toString()).toBe('body { color: red }\n');
    const home = await call(h, get('/'));
    expect(home.status).toBe(200);
    expect(home.body.toString()).toBe('<h1>home</h1>\n');
    expect((await call(h, get('/missing.txt'))).status).toBe(404);
  });

  it('a script wins over a static file of the same name', async () => {
    const h = top();
    const res = await call(h, get('/run.sh'));
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('ran\n');
    expect(existsSync(mark)).toBe(true);
  });
});

describe('static files from CGI_DOCUMENT_ROOT', () => {
  it('content types and exact bodies', async () => {
    const h = site();
    const css = await call(h, get('/style.css'));
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toEqual(['text/css']);
    expect(css.headers['content-length']).toEqual(['20']);
    expect(css.body.toString()).toBe('body { color: red }\n');

    const json = await call(h, get('/data.json'));
    expect(json.headers['content-type']).toEqual(['application/json']);
    expect(json.body.toString()).toBe('{"a":1}\n');

    const png = await h.invoke(get('/img.png'));
    expect(png.isBase64Encoded).toBe(true);
    const pngAnswer = answerOf(png);
    expect(pngAnswer.headers['content-type']).toEqual(['image/png']);
    expect(pngAnswer.body.equals(PNG)).toBe(true);
  });

  it('index.html for a directory, 301 without its slash', async () => {
    const h = site();
    const home = await call(h, get('/'));
    expect(home.status).toBe(200);
    expect(home.headers['content-type']).toEqual(['text/html']);
    expect(home.body.toString()).toBe('<h1>home</h1>\n');
    const redirect = await call(h, get('/docs'));
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toEqual(['/docs/']);
    expect((await call(h, get('/docs/'))).body.toString()).toBe('<h1>docs</h1>\n');
  });

  it('Last-Modified, and 304 on If-Modified-Since', async () => {
    const h = site();
    const first = await call(h, get('/style.css'));
    expect(first.headers['last-modified']).toEqual(['Wed, 01 Jan 2020 00:00:00 GMT']);
    const same = await call(h, get('/style.css', { headers: { 'If-Modified-Since': 'Wed, 01 Jan 2020 00:00:00 GMT' } }));
    expect(same.status).toBe(304);
    expect(same.body.length).toBe(0);
    const older = await call(h, get('/style.css', { headers: { 'If-Modified-Since': 'Tue, 31 Dec 2019 23:59:59 GMT' } }));
    expect(older.status).toBe(200);
    expect(older.body.toString()).toBe('body { color: red }\n');
  });

  it('405 with Allow for a PUT; a POST gets the file as from Apache', async () => {
    const res = await call(site(), get('/style.css', { method: 'PUT', body: 'x=1' }));
    expect(res.status).toBe(405);
    expect(res.headers.allow).toEqual(['GET, HEAD, POST, OPTIONS']);
    const post = await call(site(), get('/style.css', { method: 'POST', body: 'x=1' }));
    expect(post.status).toBe(200);
    expect(post.body.toString()).toBe('body { color: red }\n');
  });

  it('dotfiles, missing files and symlinks out of the document root are refused', async () => {
    const h = site();
    expect((await call(h, get('/.env'))).status).toBe(403);
    expect((await call(h, get('/nope.css'))).status).toBe(404);
    const leak = await call(h, get('/leak.txt'));
    expect(leak.status).toBe(403);
    expect(leak.body.toString()).not.toContain('echo');
    expect((await call(h, get('/docs/../.env'))).status).toBe(403);
  });

  it('CGI_STATIC=off serves nothing outside the prefix', async () => {
    expect((await call(site({ CGI_STATIC: 'off' }), get('/style.css'))).status).toBe(404);
  });
});

describe('refusals start no process', () => {
  function expectRefused(res: Answer, status: number) {
    expect(res.status).toBe(status);
    expect(existsSync(mark)).toBe(false);
    // A short HTML page: no file system path, no script output.
    const body = res.body.toString();
    expect(res.headers['content-type']).toEqual(['text/html; charset=utf-8']);
    expect(body.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(body.length).toBeLessThan(400);
    expect(body).not.toContain(root);
    expect(body).not.toContain('/tmp');
    expect(body).not.toContain('outside');
    expect(body).not.toContain('ran');
  }

  it('the marker script does run when asked for properly (the control)', async () => {
    const res = await call(site(), get('/cgi-bin/run.sh'));
    expect(res.status).toBe(200);
    expect(existsSync(mark)).toBe(true);
  });

  it.each([
    ['".." segments', '/cgi-bin/../outside/secret.sh', 403],
    ['".." after a directory', '/cgi-bin/sub/../../outside/secret.sh', 403],
    ['"." segment', '/cgi-bin/./run.sh', 403],
    ['%2e%2e', '/cgi-bin/%2e%2e/outside/secret.sh', 403],
    ['%2E%2e', '/cgi-bin/%2E%2e/outside/secret.sh', 403],
    ['.%2e', '/cgi-bin/.%2e/outside/secret.sh', 403],
    ['double-encoded %252e%252e', '/cgi-bin/%252e%252e/outside/secret.sh', 404],
    ['backslashes', '/cgi-bin/..\\outside\\secret.sh', 403],
    ['%5c', '/cgi-bin/..%5c..%5coutside%5csecret.sh', 403],
    ['%5C before a script', '/cgi-bin/sub%5Crun.sh', 403],
    ['NUL %00 after a script name', '/cgi-bin/run.sh%00.txt', 403],
    ['NUL %00 in PATH_INFO', '/cgi-bin/run.sh/a%00b', 403],
    ['encoded slash %2F', '/cgi-bin%2Frun.sh', 404],
    ['encoded slash %2f inside the walk', '/cgi-bin/sub%2fdeeper%2fs.sh', 404],
    ['symlink to a file outside CGI_ROOT', '/cgi-bin/out.sh', 403],
    ['symlinked directory outside CGI_ROOT', '/cgi-bin/outdir/secret.sh', 403],
    ['symlinked directory outside CGI_ROOT, deeper', '/cgi-bin/outdir/dir/secret.sh', 403],
    ['.htaccess', '/cgi-bin/.htaccess', 403],
    ['.git/config', '/cgi-bin/.git/config', 403],
    ['an encoded dotfile', '/cgi-bin/%2ehtaccess', 403],
    ['an index script symlinked outside CGI_ROOT', '/cgi-bin/linkidx/', 403],
    ['a non-executable file', '/cgi-bin/noexec.sh', 403],
    ['a non-executable file with PATH_INFO', '/cgi-bin/noexec.sh/x', 403],
    ['a missing file', '/cgi-bin/missing.sh', 404],
    ['a missing directory', '/cgi-bin/nodir/run.sh', 404],
    ['malformed percent-encoding', '/cgi-bin/run%zz.sh', 400],
    ['malformed percent-encoding in PATH_INFO', '/cgi-bin/run.sh/%', 400],
    ['a truncated escape', '/cgi-bin/run.sh/%4', 400],
  ])('%s (%s) -> %d', async (_name, path, status) => {
    const h = site();
    expectRefused(await call(h, get(path)), status);
    expectRefused(await call(h, restEvent({ path })), status);
    // Every refusal is logged with its reason, for the operator only.
    expect(h.err.filter((l) => l.includes('refused')).length).toBeGreaterThanOrEqual(1);
  });

  it('HTTP API v2 decoded paths: ".." and backslashes are refused the same', async () => {
    const h = site();
    const dots = httpApiEvent({ path: '/cgi-bin/%2e%2e/outside/secret.sh' });
    expect(dots.rawPath).toBe('/cgi-bin/../outside/secret.sh');
    expectRefused(await call(h, dots), 403);
    const back = httpApiEvent({ path: '/cgi-bin/..%5Coutside%5Csecret.sh' });
    expectRefused(await call(h, back), 403);
    const double = httpApiEvent({ path: '/cgi-bin/%252e%252e/outside/secret.sh' });
    expect(double.rawPath).toBe('/cgi-bin/%2e%2e/outside/secret.sh');
    expectRefused(await call(h, double), 404);
  });

  it('ALB paths are refused the same', async () => {
    const h = site();
    expectRefused(await call(h, albEvent({ path: '/cgi-bin/%2e%2e/outside/secret.sh' }, { multi: true })), 403);
    expectRefused(await call(h, albEvent({ path: '/cgi-bin/out.sh' }, { multi: false })), 403);
  });

  it('a symlink that stays inside CGI_ROOT is allowed', async () => {
    const h = site();
    const res = await call(h, get('/cgi-bin/in.sh/x'));
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('ran\n');
    expect(existsSync(mark)).toBe(true);
    const env = await envOf(h, get('/cgi-bin/indir/s.sh'));
    expect(env.SCRIPT_NAME).toBe('/cgi-bin/indir/s.sh');
  });
});

describe('interpreters by extension', () => {
  it('CGI_INTERPRETERS=.pl=/usr/bin/perl runs a non-executable .pl', async () => {
    const res = await call(site({ CGI_INTERPRETERS: '.pl=/usr/bin/perl' }), get('/cgi-bin/hello.pl'));
    expect(res.status).toBe(200);
    expect(res.body.toString()).toMatch(/^perl 5\.\d+ says \/cgi-bin\/hello\.pl\n$/);
  });

  it('without the mapping the same file is refused, and a mapped extension does not make .sh runnable', async () => {
    expect((await call(site(), get('/cgi-bin/hello.pl'))).status).toBe(403);
    const h = site({ CGI_INTERPRETERS: '.pl=/usr/bin/perl' });
    expect((await call(h, get('/cgi-bin/noexec.sh'))).status).toBe(403);
    expect(existsSync(mark)).toBe(false);
  });
});
