/**
 * Whole sites as Apache serves them (issue 7): real trees on disk, real
 * .htaccess files, htpasswd files made by the real `htpasswd` in each hash
 * format, through the real handler in the HTTP API and REST event shapes.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { answerOf, httpApiEvent, restEvent, type Answer, type ClientRequest, type Event } from '../support/events';
import { cleanup, harness, makeTree, parseEnv0, PRINTENV_SH, type Harness } from '../support/site';

const STATIC = 0o644;
const file = (content: string, mode = STATIC) => ({ content, mode });
const ENV_CGI = PRINTENV_SH;
const STATUS_CGI = `#!/bin/sh
printf 'Content-Type: text/plain\\n\\nerror page for %s after %s\\n' "$REDIRECT_URL" "$REDIRECT_STATUS"
`;
const BAD_CGI = `#!/bin/sh
echo "no headers at all"
`;

let root: string;
let docs: string;
let pw: string;
let groups: string;

function htpasswd(flags: string[], user: string, password: string) {
  execFileSync('htpasswd', [...flags, '-b', pw, user, password], { stdio: 'pipe' });
}

const AUTH = () => `AuthType Basic\nAuthName "Members only"\nAuthUserFile ${pw}\n`;

beforeAll(() => {
  root = makeTree({ 'placeholder': file('') });
  pw = join(root, 'etc/htpasswd');
  groups = join(root, 'etc/groups');
  mkdirSync(join(root, 'etc'));
  execFileSync('htpasswd', ['-c', '-b', '-B', '-C', '4', pw, 'alice', 'wonderland'], { stdio: 'pipe' });
  htpasswd(['-m'], 'bob', 'builder');
  htpasswd(['-s'], 'carol', 'singer');
  htpasswd(['-d'], 'dave', 'diver');
  htpasswd(['-5'], 'eve', 'sha512');
  htpasswd(['-2'], 'erin', 'sha256');
  writeFileSync(pw, 'frank:plain-text-password\n', { flag: 'a' });
  writeFileSync(groups, 'staff: bob carol\nguests: dave\n');
  docs = join(root, 'docs');
  const tree: Record<string, string | { content: string; mode?: number }> = {
    'index.html': file('<h1>home</h1>\n'),
    'style.css': file('body{}\n'),
    '.htaccess': file(
      [
        '# the site root',
        'ErrorDocument 404 /errors/404.html',
        'ErrorDocument 403 "Go away"',
        'ErrorDocument 500 /errors/status.cgi',
        'ErrorDocument 410 http://example.com/gone-page',
        'ErrorDocument 502 /errors/status.cgi',
        'ErrorDocument 413 "Files up to 1 KB, please"',
        'Redirect /old.html /index.html',
        'Redirect permanent /moved http://example.com/new',
        'RedirectMatch 301 ^/blog/(\\d+)$ /posts/$1.html',
        'Redirect gone /gone',
        'RedirectTemp /temp /index.html',
        'RedirectPermanent /perm/ http://example.com/perm/',
        'Header set X-Site lambda',
        'Header always set X-Always yes',
        '<IfModule mod_rewrite.c>',
        '  RewriteEngine On',
        '  RewriteRule ^ - [F]',
        '</IfModule>',
        '',
      ].join('\n'),
    ),
    'errors/404.html': file('<h1>Lost?</h1>\n'),
    'errors/status.cgi': STATUS_CGI,
    'errors/.htaccess': file('Options +ExecCGI\nAddHandler cgi-script .cgi\n'),
    'cgi/.htaccess': file(
      'Options +ExecCGI\nAddHandler cgi-script .cgi .pl\nDirectoryIndex index.html index.cgi\nSetEnv GREETING "hello there"\nPassEnv SITE_PASSED\nUnsetEnv LANG\n',
    ),
    'cgi/env.cgi': ENV_CGI,
    'cgi/bad.cgi': BAD_CGI,
    // 5 MB of binary: within the script output cap, over the 6 MB payload once base64.
    'cgi/huge.cgi': `#!/bin/sh\nprintf 'Content-Type: application/octet-stream\\n\\n'\nhead -c 5000000 /dev/zero\n`,
    'cgi/page.html': file('<p>static despite exec bit</p>\n', 0o755),
    'cgi/noexec.cgi': file(ENV_CGI, STATIC),
    'cgi/run.pl': `#!/usr/bin/perl\nprint "Content-Type: text/plain\\n\\nperl ran\\n";\n`,
    'cgi/sub/index.cgi': ENV_CGI,
    'noexec/.htaccess': file('AddHandler cgi-script .cgi\n'),
    'noexec/x.cgi': ENV_CGI,
    'plain/x.cgi': ENV_CGI,
    'private/.htaccess': file(AUTH() + 'Require valid-user\nOptions +ExecCGI\nAddHandler cgi-script .cgi\nErrorDocument 401 /errors/401.html\n'),
    'errors/401.html': file('<h1>Members only</h1>\n'),
    'private/secret.txt': file('the secret\n'),
    'private/env.cgi': ENV_CGI,
    'private/pass/.htaccess': file('CGIPassAuth On\n'),
    'private/pass/env.cgi': ENV_CGI,
    'private/alice/.htaccess': file('Require user alice\n'),
    'private/alice/a.txt': file('for alice\n'),
    'private/staff/.htaccess': file(`AuthGroupFile ${groups}\nRequire group staff\n`),
    'private/staff/s.txt': file('for staff\n'),
    'hosts/.htaccess': file('Order deny,allow\nDeny from all\nAllow from 10.0.0.0/8 192.168.1\n'),
    'hosts/h.txt': file('inside\n'),
    'allowdeny/.htaccess': file('Order allow,deny\nAllow from all\nDeny from 10.6.6.6\n'),
    'allowdeny/h.txt': file('mostly open\n'),
    'limit/.htaccess': file(AUTH() + '<Limit POST PUT>\nRequire valid-user\n</Limit>\nOptions +ExecCGI\nAddHandler cgi-script .cgi\n'),
    'limit/env.cgi': ENV_CGI,
    'limitexcept/.htaccess': file(AUTH() + '<LimitExcept GET>\nRequire valid-user\n</LimitExcept>\n'),
    'limitexcept/l.txt': file('read me\n'),
    'any/.htaccess': file(AUTH() + '<RequireAny>\nRequire ip 10.1.2.3\nRequire valid-user\n</RequireAny>\n'),
    'any/a.txt': file('any\n'),
    'all/.htaccess': file('<RequireAll>\nRequire all granted\nRequire not ip 10.9.9.9\n</RequireAll>\n'),
    'all/a.txt': file('all\n'),
    'none/.htaccess': file('<RequireAll>\nRequire all granted\n<RequireNone>\nRequire ip 10.8.0.0/16\n</RequireNone>\n</RequireAll>\n'),
    'none/a.txt': file('none\n'),
    'satisfy/.htaccess': file(AUTH() + 'Require valid-user\nOrder deny,allow\nDeny from all\nAllow from 10.0.0.0/8\nSatisfy any\n'),
    'satisfy/s.txt': file('satisfied\n'),
    'satisfyall/.htaccess': file(AUTH() + 'Require valid-user\nOrder deny,allow\nDeny from all\nAllow from 10.0.0.0/8\nSatisfy all\n'),
    'satisfyall/s.txt': file('both\n'),
    'denied/.htaccess': file('Require all denied\n'),
    'denied/d.txt': file('never\n'),
    'reopened/.htaccess': file('Require all denied\n'),
    'reopened/open/.htaccess': file('Require all granted\n'),
    'reopened/open/o.txt': file('open again\n'),
    'noauthtype/.htaccess': file('Require valid-user\n'),
    'noauthtype/n.txt': file('n\n'),
    'broken/.htaccess': file('Options -Indexes\nFrobnicate on\n'),
    'broken/b.txt': file('never served\n'),
    'broken/deeper/b.txt': file('never served either\n'),
    'rewrite/.htaccess': file('RewriteEngine On\n'),
    'rewrite/r.txt': file('never\n'),
    'listing/.htaccess': file('Options +Indexes\n'),
    'listing/a.txt': file('a\n'),
    'listing/b.txt': file('b\n'),
    'listing/.hidden': file('h\n'),
    'nolisting/c.txt': file('c\n'),
    'types/.htaccess': file(
      'AddType application/x-thing .thing\nAddCharset iso-8859-1 .latin\nAddEncoding x-gzip .gz\nDefaultType text/plain\nAddDefaultCharset utf-8\n',
    ),
    'types/a.thing': file('thing\n'),
    'types/page.latin.html': file('caf\xe9\n'),
    'types/data.tar.gz': file('not really gzip\n'),
    'types/README': file('read me\n'),
    'types/pic.png': file('png\n'),
    'types/forced/.htaccess': file('ForceType text/plain\n'),
    'types/forced/x.html': file('<b>raw</b>\n'),
    'files/.htaccess': file('<Files "secret.*">\nRequire all denied\n</Files>\n<FilesMatch "\\.(png|css)$">\nHeader set X-Match yes\n</FilesMatch>\n'),
    'files/secret.txt': file('hidden by Files\n'),
    'files/public.txt': file('public\n'),
    'files/a.css': file('a{}\n'),
    'expires/.htaccess': file('ExpiresActive On\nExpiresByType text/css "access plus 1 month"\nExpiresByType image/* A3600\nExpiresDefault M60\nHeader append Cache-Control public\n'),
    'expires/e.css': file('e{}\n'),
    'expires/e.png': file('png\n'),
    'expires/e.txt': file('txt\n'),
    'headers/.htaccess': file('Header unset X-Site\nHeader add X-Multi one\nHeader add X-Multi two\nHeader setifempty X-Empty filled\nHeader merge X-Site merged\n'),
    'headers/h.txt': file('h\n'),
    'symlinks/.htaccess': file('Options -FollowSymLinks\n'),
    'sethandler/.htaccess': file('Options +ExecCGI\nSetHandler cgi-script\n'),
    'sethandler/tool': ENV_CGI,
    'sethandler/off/.htaccess': file('SetHandler None\n'),
    'sethandler/off/tool': ENV_CGI,
  };
  for (const [rel, spec] of Object.entries(tree)) {
    const path = join(docs, rel);
    mkdirSync(join(path, '..'), { recursive: true });
    const s = typeof spec === 'string' ? { content: spec, mode: 0o755 } : spec;
    writeFileSync(path, s.content, typeof s.content === 'string' && /\xe9/.test(s.content) ? 'latin1' : 'utf8');
    execFileSync('chmod', [(s.mode ?? 0o755).toString(8), path]);
  }
  symlinkSync('../index.html', join(docs, 'symlinks/link.html'));
  symlinkSync('../index.html', join(docs, 'files/link.html'));
});
afterAll(() => cleanup(root));

function site(extra: Record<string, string> = {}): Harness {
  return harness({ CGI_DOCUMENT_ROOT: docs, CGI_ROOT: join(root, 'no-such-cgi-bin'), SITE_PASSED: 'from the function', LANG: 'C.UTF-8', CGI_MAX_BODY_BYTES: '1024', ...extra });
}

const SHAPES: Array<[string, (r: ClientRequest) => Event, string]> = [
  ['HTTP API', (r) => httpApiEvent(r), ''],
  ['REST', (r) => restEvent(r), '/prod'],
];

const basic = (user: string, password: string) => ({ authorization: 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64') });

describe.each(SHAPES)('%s', (_shape, event, base) => {
  let h: Harness;
  beforeAll(() => {
    h = site();
  });
  beforeEach(() => h.clearLogs());
  const call = async (path: string, extra: Partial<ClientRequest> = {}): Promise<Answer> =>
    answerOf(await h.invoke(event({ path, ...extra })));
  const text = (a: Answer) => a.body.toString();
  const errLog = () => h.err.join('');

  describe('routing in one document root', () => {
    it('a mapped extension in an ExecCGI directory runs; the environment has SetEnv, PassEnv, UnsetEnv', async () => {
      const res = await call('/cgi/env.cgi/extra');
      expect(res.status).toBe(200);
      const env = parseEnv0(res.body);
      expect(env.SCRIPT_NAME).toBe(`${base}/cgi/env.cgi`);
      expect(env.PATH_INFO).toBe('/extra');
      expect(env.GREETING).toBe('hello there');
      expect(env.SITE_PASSED).toBe('from the function');
      expect(env.LANG).toBeUndefined();
      expect(env.REDIRECT_STATUS).toBe('200');
    });

    it('Perl by extension', async () => {
      expect(text(await call('/cgi/run.pl'))).toBe('perl ran\n');
    });

    it('an unmapped file is static even with its exec bit set', async () => {
      const res = await call('/cgi/page.html');
      expect(res.status).toBe(200);
      expect(text(res)).toBe('<p>static despite exec bit</p>\n');
    });

    it('a mapped file without the exec bit is refused, not shown', async () => {
      const res = await call('/cgi/noexec.cgi');
      expect(res.status).toBe(403);
      expect(text(res)).not.toContain('env -0');
    });

    it('AddHandler without Options ExecCGI is 403; no mapping at all serves the file as it is', async () => {
      expect((await call('/noexec/x.cgi')).status).toBe(403);
      const plain = await call('/plain/x.cgi');
      expect(plain.status).toBe(200);
      expect(text(plain)).toBe(ENV_CGI);
    });

    it('DirectoryIndex names a script', async () => {
      const res = await call('/cgi/sub/');
      expect(res.status).toBe(200);
      expect(parseEnv0(res.body).SCRIPT_NAME).toBe(`${base}/cgi/sub/index.cgi`);
    });

    it('SetHandler cgi-script runs any file; SetHandler None below it does not', async () => {
      expect(parseEnv0((await call('/sethandler/tool')).body).SCRIPT_NAME).toBe(`${base}/sethandler/tool`);
      expect(text(await call('/sethandler/off/tool'))).toBe(ENV_CGI);
    });

    it('.htaccess and other dotfiles are never served', async () => {
      for (const p of ['/.htaccess', '/private/.htaccess', '/listing/.hidden', '/%2ehtaccess']) {
        const res = await call(p);
        expect(res.status).toBe(403);
        expect(text(res)).toBe('Go away');
      }
    });

    it('Options -FollowSymLinks refuses a symlink; the default follows one inside the root', async () => {
      expect((await call('/symlinks/link.html')).status).toBe(403);
      expect(text(await call('/files/link.html'))).toBe('<h1>home</h1>\n');
    });
  });

  describe('fail closed', () => {
    it('an unknown directive: 500 for every request into the directory, the log names file, line and directive', async () => {
      for (const p of ['/broken/b.txt', '/broken/deeper/b.txt', '/broken/missing', '/broken/']) {
        const res = await call(p);
        expect(res.status).toBe(500);
        expect(text(res)).not.toContain('never served');
      }
      expect(errLog()).toContain(`${join(docs, 'broken/.htaccess')}:2: Frobnicate: unknown or unsupported directive`);
    });

    it('mod_rewrite outside <IfModule> fails closed; inside one it is skipped (the site root works)', async () => {
      expect((await call('/rewrite/r.txt')).status).toBe(500);
      expect(errLog()).toMatch(/rewrite\/\.htaccess:1: RewriteEngine: mod_rewrite is not implemented/);
      expect((await call('/index.html')).status).toBe(200);
    });

    it('Require valid-user without AuthType is a 500, never open', async () => {
      const res = await call('/noauthtype/n.txt');
      expect(res.status).toBe(500);
      expect(errLog()).toContain('AuthType Basic is not set');
    });

    it.each([
      ['SHA-512 crypt', 'eve', 'sha512'],
      ['SHA-256 crypt', 'erin', 'sha256'],
      ['plain text', 'frank', 'plain-text-password'],
    ])('a password hash we cannot check (%s) refuses the login (500), and the log says why', async (_kind, user, password) => {
      const res = await call('/private/secret.txt', { headers: basic(user, password) });
      expect(res.status).toBe(500);
      expect(text(res)).not.toContain('the secret');
      expect(errLog()).toContain(`user \\"${user}\\" in ${pw} has a password hash format that is not supported`);
    });
  });

  describe('Basic authentication', () => {
    it('no credentials: 401 with the realm, the site\'s 401 page, the file never sent', async () => {
      const res = await call('/private/secret.txt');
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toEqual(['Basic realm="Members only"']);
      expect(text(res)).toBe('<h1>Members only</h1>\n');
    });

    it.each([
      ['bcrypt', 'alice', 'wonderland'],
      ['apr1 MD5', 'bob', 'builder'],
      ['SHA-1', 'carol', 'singer'],
      ['crypt(3) DES', 'dave', 'diver'],
    ])('%s from htpasswd logs in; a wrong password is 401', async (_kind, user, password) => {
      const ok = await call('/private/secret.txt', { headers: basic(user, password) });
      expect(ok.status).toBe(200);
      expect(text(ok)).toBe('the secret\n');
      expect(h.out.join('')).toContain(`"user":"${user}"`);
      const bad = await call('/private/secret.txt', { headers: basic(user, password + 'x') });
      expect(bad.status).toBe(401);
      expect(text(bad)).not.toContain('secret');
    });

    it('an unknown user and a malformed header are 401', async () => {
      expect((await call('/private/secret.txt', { headers: basic('mallory', 'x') })).status).toBe(401);
      expect((await call('/private/secret.txt', { headers: { authorization: 'Basic !!!' } })).status).toBe(401);
      expect((await call('/private/secret.txt', { headers: { authorization: 'Bearer abc' } })).status).toBe(401);
    });

    it('scripts see AUTH_TYPE and REMOTE_USER, and Authorization only with CGIPassAuth On', async () => {
      const env = parseEnv0((await call('/private/env.cgi', { headers: basic('alice', 'wonderland') })).body);
      expect(env.AUTH_TYPE).toBe('Basic');
      expect(env.REMOTE_USER).toBe('alice');
      expect(env.HTTP_AUTHORIZATION).toBeUndefined();
      const passed = parseEnv0((await call('/private/pass/env.cgi', { headers: basic('alice', 'wonderland') })).body);
      expect(passed.HTTP_AUTHORIZATION).toBe(basic('alice', 'wonderland').authorization);
    });

    it('Require user: the wrong user gets 401 again', async () => {
      expect((await call('/private/alice/a.txt', { headers: basic('alice', 'wonderland') })).status).toBe(200);
      expect((await call('/private/alice/a.txt', { headers: basic('bob', 'builder') })).status).toBe(401);
    });

    it('Require group from AuthGroupFile', async () => {
      expect((await call('/private/staff/s.txt', { headers: basic('bob', 'builder') })).status).toBe(200);
      expect((await call('/private/staff/s.txt', { headers: basic('carol', 'singer') })).status).toBe(200);
      expect((await call('/private/staff/s.txt', { headers: basic('dave', 'diver') })).status).toBe(401);
    });

    it('<Limit POST PUT> protects only those methods', async () => {
      expect((await call('/limit/env.cgi')).status).toBe(200);
      expect((await call('/limit/env.cgi', { method: 'POST', body: 'a=1' })).status).toBe(401);
      expect((await call('/limit/env.cgi', { method: 'POST', body: 'a=1', headers: basic('bob', 'builder') })).status).toBe(200);
    });

    it('<LimitExcept GET> protects everything but GET (and HEAD)', async () => {
      expect((await call('/limitexcept/l.txt')).status).toBe(200);
      expect((await call('/limitexcept/l.txt', { method: 'HEAD' })).status).toBe(200);
      expect((await call('/limitexcept/l.txt', { method: 'DELETE' })).status).toBe(401);
    });
  });

  describe('access by address and Require containers', () => {
    const from = (ip: string) => ({ sourceIp: ip });
    it('Order deny,allow with Deny from all and Allow from networks', async () => {
      expect((await call('/hosts/h.txt', from('10.2.3.4'))).status).toBe(200);
      expect((await call('/hosts/h.txt', from('192.168.1.77'))).status).toBe(200);
      const refused = await call('/hosts/h.txt', from('203.0.113.9'));
      expect(refused.status).toBe(403);
      expect(text(refused)).toBe('Go away');
    });

    it('Order allow,deny with Allow from all and one Deny', async () => {
      expect((await call('/allowdeny/h.txt', from('10.6.6.5'))).status).toBe(200);
      expect((await call('/allowdeny/h.txt', from('10.6.6.6'))).status).toBe(403);
    });

    it('<RequireAny>: the address or a login', async () => {
      expect((await call('/any/a.txt', from('10.1.2.3'))).status).toBe(200);
      expect((await call('/any/a.txt', from('10.1.2.4'))).status).toBe(401);
      expect((await call('/any/a.txt', { ...from('10.1.2.4'), headers: basic('dave', 'diver') })).status).toBe(200);
    });

    it('<RequireAll> with Require not ip, and <RequireNone>', async () => {
      expect((await call('/all/a.txt', from('10.9.9.8'))).status).toBe(200);
      expect((await call('/all/a.txt', from('10.9.9.9'))).status).toBe(403);
      expect((await call('/none/a.txt', from('10.7.0.1'))).status).toBe(200);
      expect((await call('/none/a.txt', from('10.8.0.1'))).status).toBe(403);
    });

    it('Satisfy any: the address or a login; Satisfy all: both', async () => {
      expect((await call('/satisfy/s.txt', from('10.0.0.1'))).status).toBe(200);
      expect((await call('/satisfy/s.txt', from('203.0.113.1'))).status).toBe(401);
      expect((await call('/satisfy/s.txt', { ...from('203.0.113.1'), headers: basic('bob', 'builder') })).status).toBe(200);
      expect((await call('/satisfyall/s.txt', from('10.0.0.1'))).status).toBe(401);
      expect((await call('/satisfyall/s.txt', { ...from('10.0.0.1'), headers: basic('bob', 'builder') })).status).toBe(200);
      expect((await call('/satisfyall/s.txt', { ...from('203.0.113.1'), headers: basic('bob', 'builder') })).status).toBe(403);
    });

    it('Require all denied, and a subdirectory\'s own Require replaces it', async () => {
      expect((await call('/denied/d.txt')).status).toBe(403);
      expect((await call('/denied/missing.txt')).status).toBe(403);
      expect(text(await call('/reopened/open/o.txt'))).toBe('open again\n');
    });

    it('<Files> narrows Require to matching names', async () => {
      expect((await call('/files/secret.txt')).status).toBe(403);
      expect((await call('/files/public.txt')).status).toBe(200);
    });
  });

  describe('redirects and error documents', () => {
    it('Redirect to a local path keeps the stage and the query', async () => {
      const res = await call('/old.html', { query: 'a=1' });
      expect(res.status).toBe(302);
      expect(res.headers.location).toEqual([`${base}/index.html?a=1`]);
    });

    it('Redirect permanent to a URL appends the rest of the path', async () => {
      const res = await call('/moved/deep/page.html');
      expect(res.status).toBe(301);
      expect(res.headers.location).toEqual(['http://example.com/new/deep/page.html']);
    });

    it('RedirectTemp and RedirectPermanent', async () => {
      const temp = await call('/temp');
      expect([temp.status, temp.headers.location]).toEqual([302, [`${base}/index.html`]]);
      const perm = await call('/perm/a/b');
      expect([perm.status, perm.headers.location]).toEqual([301, ['http://example.com/perm/a/b']]);
    });

    it('RedirectMatch substitutes groups', async () => {
      const res = await call('/blog/42');
      expect(res.status).toBe(301);
      expect(res.headers.location).toEqual([`${base}/posts/42.html`]);
    });

    it('Redirect gone is 410, and an ErrorDocument URL turns it into a 302 there', async () => {
      const res = await call('/gone');
      expect(res.status).toBe(302);
      expect(res.headers.location).toEqual(['http://example.com/gone-page']);
    });

    it('ErrorDocument 404 with a local page keeps the status', async () => {
      const res = await call('/no/such/page.html');
      expect(res.status).toBe(404);
      expect(text(res)).toBe('<h1>Lost?</h1>\n');
      expect(res.headers['content-type']).toEqual(['text/html']);
    });

    it('ErrorDocument text', async () => {
      const res = await call('/denied/d.txt');
      expect(res.status).toBe(403);
      expect(text(res)).toBe('Go away');
    });

    it('ErrorDocument script sees REDIRECT_STATUS and REDIRECT_URL, the status is kept', async () => {
      const res = await call('/cgi/bad.cgi');
      expect(res.status).toBe(500);
      expect(text(res)).toBe(`error page for ${base}/cgi/bad.cgi after 500\n`);
    });

    it('the payload-limit 502, found after the answer was made, uses the ErrorDocument too', async () => {
      const res = await call('/cgi/huge.cgi');
      expect(res.status).toBe(502);
      expect(text(res)).toBe(`error page for ${base}/cgi/huge.cgi after 502\n`);
    });

    it('a body over CGI_MAX_BODY_BYTES (refused before routing) gets the ErrorDocument 413 text, and the script never runs', async () => {
      const res = await call('/cgi/env.cgi', { method: 'POST', body: 'x'.repeat(4096) });
      expect(res.status).toBe(413);
      expect(text(res)).toBe('Files up to 1 KB, please');
    });

    it('always headers are on error pages, onsuccess ones are not', async () => {
      const res = await call('/no/such/page.html');
      expect(res.headers['x-always']).toEqual(['yes']);
      const ok = await call('/index.html');
      expect(ok.headers['x-site']).toEqual(['lambda']);
      expect(ok.headers['x-always']).toEqual(['yes']);
    });
  });

  describe('content', () => {
    it('AddType, AddCharset, AddEncoding, DefaultType, AddDefaultCharset', async () => {
      expect((await call('/types/a.thing')).headers['content-type']).toEqual(['application/x-thing']);
      expect((await call('/types/page.latin.html')).headers['content-type']).toEqual(['text/html; charset=iso-8859-1']);
      const gz = await call('/types/data.tar.gz');
      expect(gz.headers['content-encoding']).toEqual(['gzip']);
      expect(gz.headers['content-type']?.[0]).not.toMatch(/gzip/);
      expect((await call('/types/README')).headers['content-type']).toEqual(['text/plain; charset=utf-8']);
      expect((await call('/types/pic.png')).headers['content-type']).toEqual(['image/png']);
      expect((await call('/index.html')).headers['content-type']).toEqual(['text/html']);
    });

    it('ForceType', async () => {
      expect((await call('/types/forced/x.html')).headers['content-type']).toEqual(['text/plain; charset=utf-8']);
    });

    it('<FilesMatch> Header', async () => {
      expect((await call('/files/a.css')).headers['x-match']).toEqual(['yes']);
      expect((await call('/files/public.txt')).headers['x-match']).toBeUndefined();
    });

    it('Header unset, add, setifempty, merge', async () => {
      const res = await call('/headers/h.txt');
      expect(res.headers['x-multi'].join(', ')).toBe('one, two');
      expect(res.headers['x-empty']).toEqual(['filled']);
      expect(res.headers['x-site']).toEqual(['merged']);
    });

    it('ExpiresByType (access plus, A seconds), ExpiresDefault (M seconds)', async () => {
      const css = await call('/expires/e.css');
      expect(css.headers['cache-control']?.join(', ')).toMatch(/max-age=(2592000|259199\d)/);
      expect(css.headers['cache-control']?.join(', ')).toContain('public');
      expect(Date.parse(css.headers.expires[0]) - Date.now()).toBeGreaterThan(2591000 * 1000);
      const png = await call('/expires/e.png');
      expect(png.headers['cache-control']?.join(', ')).toMatch(/max-age=(3600|359\d)/);
      const txt = await call('/expires/e.txt');
      const modified = Date.parse(txt.headers['last-modified'][0]);
      expect(Date.parse(txt.headers.expires[0])).toBe(modified + 60_000);
    });

    it('Options +Indexes lists a directory without dotfiles; without it, 403', async () => {
      const list = await call('/listing/');
      expect(list.status).toBe(200);
      expect(text(list)).toContain('a.txt');
      expect(text(list)).toContain('b.txt');
      expect(text(list)).not.toContain('.hidden');
      expect(text(list)).not.toContain('.htaccess');
      expect((await call('/nolisting/')).status).toBe(403);
    });
  });
});

describe('layouts', () => {
  it('CGI_DOCUMENT_ROOT alone: a missing ScriptAlias directory is one startup log line, not an error', async () => {
    const h = site();
    const res = answerOf(await h.invoke(httpApiEvent({ path: '/index.html' })));
    expect(res.status).toBe(200);
    expect(h.err.filter((l) => l.includes('CGI_ROOT')).length).toBe(1);
    const lines = h.err.length;
    await h.invoke(httpApiEvent({ path: '/index.html' }));
    expect(h.err.length).toBe(lines);
    expect(answerOf(await h.invoke(httpApiEvent({ path: '/cgi-bin/x.cgi' }))).status).toBe(404);
  });

  describe('CGI_ROOT=CGI_DOCUMENT_ROOT with CGI_PREFIX=/', () => {
    let tree: string;
    beforeAll(() => {
      tree = makeTree({
        'style.css': { content: 'b{}\n', mode: 0o755 },
        'page.html': { content: '<p>page</p>\n', mode: 0o755 },
        'data.txt': { content: 'data\n', mode: 0o644 },
        'app.sh': PRINTENV_SH,
        'mapped/.htaccess': { content: 'AddHandler cgi-script .cgi\n', mode: 0o644 },
        'mapped/run.cgi': PRINTENV_SH,
        'mapped/tool.sh': PRINTENV_SH,
        'mapped/page.html': { content: '<p>mapped page</p>\n', mode: 0o755 },
      });
    });
    afterAll(() => cleanup(tree));
    const h = () => harness({ CGI_ROOT: tree, CGI_DOCUMENT_ROOT: tree, CGI_PREFIX: '/' });
    const get = async (hh: Harness, path: string) => answerOf(await hh.invoke(restEvent({ path })));

    it('non-executable files are static, not 403; executables run where nothing is mapped', async () => {
      const hh = h();
      expect((await get(hh, '/data.txt')).body.toString()).toBe('data\n');
      expect(parseEnv0((await get(hh, '/app.sh')).body).SCRIPT_NAME).toBe('/prod/app.sh');
    });

    it('where the tree maps handlers, only mapped files run, exec bit or not on the others', async () => {
      const hh = h();
      expect(parseEnv0((await get(hh, '/mapped/run.cgi')).body).SCRIPT_NAME).toBe('/prod/mapped/run.cgi');
      expect((await get(hh, '/mapped/tool.sh')).body.toString()).toBe(PRINTENV_SH);
      expect((await get(hh, '/mapped/page.html')).body.toString()).toBe('<p>mapped page</p>\n');
    });
  });
});

describe('a warm instance', () => {
  it('picks up an edited .htaccess without a restart', async () => {
    const tree = makeTree({ 'd/f.txt': { content: 'f\n', mode: 0o644 }, 'd/.htaccess': { content: 'Require all granted\n', mode: 0o644 } });
    const h = harness({ CGI_DOCUMENT_ROOT: tree, CGI_ROOT: join(tree, 'none') });
    const get = async () => answerOf(await h.invoke(httpApiEvent({ path: '/d/f.txt' }))).status;
    expect(await get()).toBe(200);
    writeFileSync(join(tree, 'd/.htaccess'), 'Require all denied\n# now longer than before\n');
    expect(await get()).toBe(403);
    writeFileSync(join(tree, 'd/.htaccess'), 'Nonsense here\n');
    expect(await get()).toBe(500);
    execFileSync('rm', [join(tree, 'd/.htaccess')]);
    expect(await get()).toBe(200);
    // A file appearing higher up changes the merge of every directory below it.
    writeFileSync(join(tree, '.htaccess'), 'Require all denied\n');
    expect(await get()).toBe(403);
    writeFileSync(join(tree, 'd/.htaccess'), 'Require all granted\n');
    expect(await get()).toBe(200);
    execFileSync('rm', [join(tree, 'd/.htaccess')]);
    expect(await get()).toBe(403);
    cleanup(tree);
  });
});

describe('CGI_CONFIG', () => {
  let tree: string;
  beforeAll(() => {
    tree = makeTree({
      'htdocs/index.html': { content: 'home\n', mode: 0o644 },
      'htdocs/members/m.txt': { content: 'members\n', mode: 0o644 },
      'htdocs/scripts/s.cgi': PRINTENV_SH,
      'manual/guide.txt': { content: 'the guide\n', mode: 0o644 },
      'tools/t.sh': PRINTENV_SH,
      'layer/etc/htpasswd': { content: '', mode: 0o644 },
    });
  });
  afterAll(() => cleanup(tree));

  function withConfig(text: string, extra: Record<string, string> = {}): Harness {
    const file = join(tree, 'site.conf');
    writeFileSync(file, text);
    return harness({ CGI_DOCUMENT_ROOT: join(tree, 'htdocs'), CGI_ROOT: join(tree, 'none'), CGI_CONFIG: file, ...extra });
  }

  it('<Directory> (relative and absolute), Alias, ScriptAlias and top-level directives; AuthUserFile under /opt offline', async () => {
    execFileSync('htpasswd', ['-c', '-b', '-B', '-C', '4', join(tree, 'layer/etc/htpasswd'), 'ann', 'secret'], { stdio: 'pipe' });
    const h = withConfig(
      [
        'Header always set X-Vhost yes',
        '<Directory members>',
        '  AuthType Basic',
        '  AuthName "Members"',
        '  AuthUserFile /opt/etc/htpasswd',
        '  Require valid-user',
        '</Directory>',
        `<Directory "${join(tree, 'htdocs/scripts')}">`,
        '  Options +ExecCGI',
        '  AddHandler cgi-script .cgi',
        '</Directory>',
        `Alias /manual ${join(tree, 'manual')}`,
        `ScriptAlias /tools/ ${join(tree, 'tools')}/`,
      ].join('\n'),
      { IS_OFFLINE: 'true', CGI_OFFLINE_LAYER_DIR: join(tree, 'layer') },
    );
    const get = async (path: string, headers: Record<string, string> = {}) => answerOf(await h.invoke(httpApiEvent({ path, headers })));
    const index = await get('/index.html');
    expect(index.headers['x-vhost']).toEqual(['yes']);
    expect((await get('/members/m.txt')).status).toBe(401);
    expect((await get('/members/m.txt', basic('ann', 'secret'))).status).toBe(200);
    expect(parseEnv0((await get('/scripts/s.cgi')).body).SCRIPT_NAME).toBe('/scripts/s.cgi');
    expect((await get('/manual/guide.txt')).body.toString()).toBe('the guide\n');
    expect(parseEnv0((await get('/tools/t.sh/x')).body).PATH_INFO).toBe('/x');
  });

  it('<DirectoryMatch> and a wildcard <Directory>', async () => {
    const h = withConfig(
      [
        '<DirectoryMatch "/mem[a-z]+$">',
        '  Header set X-Match regex',
        '</DirectoryMatch>',
        `<Directory ${join(tree, 'htdocs')}/scr*>`,
        '  Require all denied',
        '</Directory>',
      ].join('\n'),
    );
    const get = async (path: string) => answerOf(await h.invoke(httpApiEvent({ path })));
    expect((await get('/members/m.txt')).headers['x-match']).toEqual(['regex']);
    expect((await get('/index.html')).headers['x-match']).toBeUndefined();
    expect((await get('/scripts/s.cgi')).status).toBe(403);
    expect((await get('/index.html')).status).toBe(200);
  });

  it('a problem in CGI_CONFIG makes every request 500, and the log names file, line and directive', async () => {
    const h = withConfig('Options +ExecCGI\n<Location /x>\n</Location>\n');
    const res = answerOf(await h.invoke(httpApiEvent({ path: '/index.html' })));
    expect(res.status).toBe(500);
    expect(h.err.join('')).toContain(`${join(tree, 'site.conf')}:2: <Location>: unsupported section`);
  });
});
