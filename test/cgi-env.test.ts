/**
 * The CGI environment (issue 2, section 4): every RFC 3875 §4.1 meta-variable,
 * Apache's extras, HTTP_* rules, a clean environment and the defences, read
 * back from what a real script really got.
 */
import { existsSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildCgiEnv, isindexArgs } from '../handler/cgi-env';
import { loadConfig, SERVER_SOFTWARE } from '../handler/config';
import type { HttpRequest } from '../handler/request';
import { albEvent, answerOf, functionUrlEvent, httpApiEvent, restEvent, type Answer, type Event } from './support/events';
import { cleanup, harness, makeTree, parseEnv0, PRINTENV_SH, type Harness } from './support/site';

const PRINTENV_BASH = `#!/bin/bash
printf 'Content-Type: text/plain\\n\\n'
env -0
`;

/** Its argv, one per line, after the count. */
const ARGS_SH = `#!/bin/sh
printf 'Content-Type: text/plain\\n\\n'
echo "$#"
for a in "$@"; do printf '%s\\n' "$a"; done
`;

const PWD_SH = `#!/bin/sh
printf 'Content-Type: text/plain\\n\\n'
pwd -P
`;

const GO_SH = `#!/bin/sh
printf 'Location: /cgi-bin/env.sh\\n\\n'
`;

const GO_CAT_SH = `#!/bin/sh
printf 'Location: /cgi-bin/cat.sh\\n\\n'
`;

const CAT_SH = `#!/bin/sh
printf 'Content-Type: text/plain\\n\\n'
printf '[%s]' "$(cat)"
`;

let root: string;
let cgi: string;
let docs: string;
let mark: string;

beforeAll(() => {
  root = makeTree({
    'cgi-bin/env.sh': PRINTENV_SH,
    'cgi-bin/locale.pl': '#!/usr/bin/perl\nprint "Content-Type: text/plain\\n\\nok\\n";\n',
    'cgi-bin/env.bash': PRINTENV_BASH,
    'cgi-bin/args.sh': ARGS_SH,
    'cgi-bin/deep/dir/pwd.sh': PWD_SH,
    'cgi-bin/go.sh': GO_SH,
    'cgi-bin/go-cat.sh': GO_CAT_SH,
    'cgi-bin/cat.sh': CAT_SH,
    'htdocs/index.html': { content: 'home\n', mode: 0o644 },
  });
  cgi = join(root, 'cgi-bin');
  docs = join(root, 'htdocs');
  mark = join(root, 'pwned');
});
afterAll(() => cleanup(root));
beforeEach(() => rmSync(mark, { force: true }));

function site(extra: Record<string, string | undefined> = {}): Harness {
  return harness({ CGI_ROOT: cgi, CGI_DOCUMENT_ROOT: docs, ...extra });
}

async function call(h: Harness, event: Event, requestId = 'req-1'): Promise<Answer> {
  return answerOf(await h.invoke(event, { awsRequestId: requestId }));
}

async function envOf(h: Harness, event: Event, requestId = 'req-1'): Promise<Record<string, string>> {
  const res = await call(h, event, requestId);
  expect(res.status).toBe(200);
  return parseEnv0(res.body);
}

/** Every variable a script may see for a plain request, besides HTTP_* and PWD (which sh adds). */
const ALLOWED = new Set([
  'AUTH_TYPE', 'CONTENT_LENGTH', 'CONTENT_TYPE', 'GATEWAY_INTERFACE', 'PATH_INFO', 'PATH_TRANSLATED', 'QUERY_STRING',
  'REMOTE_ADDR', 'REMOTE_HOST', 'REMOTE_USER', 'REQUEST_METHOD', 'SCRIPT_NAME', 'SERVER_NAME', 'SERVER_PORT',
  'SERVER_PROTOCOL', 'SERVER_SOFTWARE', 'REQUEST_URI', 'SCRIPT_FILENAME', 'DOCUMENT_ROOT', 'REQUEST_SCHEME', 'HTTPS',
  'SERVER_ADMIN', 'REDIRECT_STATUS', 'UNIQUE_ID', 'PATH', 'LANG', 'LC_ALL', 'TZ', 'LD_LIBRARY_PATH', 'PERL5LIB', 'PWD',
]);

describe('RFC 3875 §4.1 meta-variables', () => {
  it('a GET through a REST API: every variable, exact', async () => {
    const e = restEvent({
      path: '/cgi-bin/env.sh/some%20where/x', query: 'a=1&b=x+y',
      headers: { Host: 'www.example.com', 'User-Agent': 'curl/8' }, sourceIp: '198.51.100.4',
    }, { stage: 'prod' });
    const env = await envOf(site(), e, 'abc-123');
    expect(env.AUTH_TYPE).toBeUndefined();
    expect(env.CONTENT_LENGTH).toBeUndefined();
    expect(env.CONTENT_TYPE).toBeUndefined();
    expect(env.GATEWAY_INTERFACE).toBe('CGI/1.1');
    expect(env.PATH_INFO).toBe('/some where/x');
    expect(env.PATH_TRANSLATED).toBe(`${docs}/some where/x`);
    expect(env.QUERY_STRING).toBe('a=1&b=x+y');
    expect(env.REMOTE_ADDR).toBe('198.51.100.4');
    expect(env.REMOTE_HOST).toBe('198.51.100.4');
    expect(env.REMOTE_USER).toBeUndefined();
    expect(env.REQUEST_METHOD).toBe('GET');
    expect(env.SCRIPT_NAME).toBe('/prod/cgi-bin/env.sh');
    expect(env.SERVER_NAME).toBe('www.example.com');
    expect(env.SERVER_PORT).toBe('443');
    expect(env.SERVER_PROTOCOL).toBe('HTTP/1.1');
    expect(env.SERVER_SOFTWARE).toBe(SERVER_SOFTWARE);
    expect(env.SERVER_SOFTWARE).toMatch(/^lambda-cgi\/\d+\.\d+/);
    // Apache's extras.
    expect(env.REQUEST_URI).toBe('/prod/cgi-bin/env.sh/some%20where/x?a=1&b=x+y');
    expect(env.SCRIPT_FILENAME).toBe(realpathSync(join(cgi, 'env.sh')));
    expect(env.DOCUMENT_ROOT).toBe(docs);
    expect(env.REQUEST_SCHEME).toBe('https');
    expect(env.HTTPS).toBe('on');
    expect(env.SERVER_ADMIN).toBeUndefined();
    expect(env.REDIRECT_STATUS).toBe('200');
    expect(env.UNIQUE_ID).toBe('abc-123');
    expect(env.HTTP_HOST).toBe('www.example.com');
    expect(env.HTTP_USER_AGENT).toBe('curl/8');
    for (const key of Object.keys(env)) {
      if (!key.startsWith('HTTP_')) expect(ALLOWED.has(key) ? key : `unexpected ${key}`).toBe(key);
    }
  });

  it('a POST: CONTENT_LENGTH and CONTENT_TYPE, no HTTP_ copies of them', async () => {
    const e = httpApiEvent({
      method: 'POST', path: '/cgi-bin/env.sh', body: 'name=caf%C3%A9&x=1',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '18' },
    });
    const env = await envOf(site(), e);
    expect(env.REQUEST_METHOD).toBe('POST');
    expect(env.CONTENT_LENGTH).toBe('18');
    expect(env.CONTENT_TYPE).toBe('application/x-www-form-urlencoded');
    expect(env.HTTP_CONTENT_TYPE).toBeUndefined();
    expect(env.HTTP_CONTENT_LENGTH).toBeUndefined();
  });

  it('CONTENT_LENGTH is the length of the body really delivered, in bytes', async () => {
    const env = await envOf(site(), restEvent({ method: 'PUT', path: '/cgi-bin/env.sh', body: 'héllo' }));
    expect(env.CONTENT_LENGTH).toBe('6');
  });

  it('no body, no CONTENT_LENGTH, even for a POST', async () => {
    const env = await envOf(site(), httpApiEvent({ method: 'POST', path: '/cgi-bin/env.sh' }));
    expect(env.CONTENT_LENGTH).toBeUndefined();
  });

  it('QUERY_STRING is set, empty, when there is no query', async () => {
    const env = await envOf(site(), httpApiEvent({ path: '/cgi-bin/env.sh' }));
    expect(env.QUERY_STRING).toBe('');
    expect(env.REQUEST_URI).toBe('/cgi-bin/env.sh');
  });

  it('SERVER_NAME is the Host without its port; SERVER_PORT the port', async () => {
    const h = site();
    let env = await envOf(h, httpApiEvent({ path: '/cgi-bin/env.sh', headers: { host: 'shop.example.com:8443' } }));
    expect(env.SERVER_NAME).toBe('shop.example.com');
    expect(env.SERVER_PORT).toBe('8443');
    expect(env.HTTP_HOST).toBe('shop.example.com:8443');
    env = await envOf(h, httpApiEvent({ path: '/cgi-bin/env.sh', headers: { host: '[2001:db8::1]:8080' } }));
    expect(env.SERVER_NAME).toBe('[2001:db8::1]');
    expect(env.SERVER_PORT).toBe('8080');
  });

  it('SERVER_PORT from X-Forwarded-Port, and plain http for an ALB listener on port 80', async () => {
    const e = albEvent({ path: '/cgi-bin/env.sh', headers: { host: 'lb.example.com' } }, { multi: false });
    e.headers['x-forwarded-proto'] = 'http';
    e.headers['x-forwarded-port'] = '80';
    const env = await envOf(site(), e);
    expect(env.SERVER_NAME).toBe('lb.example.com');
    expect(env.SERVER_PORT).toBe('80');
    expect(env.REQUEST_SCHEME).toBe('http');
    expect(env.HTTPS).toBeUndefined();
  });

  it('CGI_SERVER_NAME overrides the Host header', async () => {
    const env = await envOf(site({ CGI_SERVER_NAME: 'canonical.example.org' }), httpApiEvent({ path: '/cgi-bin/env.sh', headers: { host: 'abc123.execute-api.us-east-1.amazonaws.com' } }));
    expect(env.SERVER_NAME).toBe('canonical.example.org');
    expect(env.HTTP_HOST).toBe('abc123.execute-api.us-east-1.amazonaws.com');
  });

  it('SERVER_PROTOCOL from the event', async () => {
    const e = httpApiEvent({ path: '/cgi-bin/env.sh' });
    e.requestContext.http.protocol = 'HTTP/2.0';
    expect((await envOf(site(), e)).SERVER_PROTOCOL).toBe('HTTP/2.0');
  });

  it('SERVER_ADMIN when CGI_SERVER_ADMIN is set', async () => {
    const env = await envOf(site({ CGI_SERVER_ADMIN: 'webmaster@example.com' }), httpApiEvent({ path: '/cgi-bin/env.sh' }));
    expect(env.SERVER_ADMIN).toBe('webmaster@example.com');
  });

  it('REQUEST_URI is the raw path and query as sent (Function URL)', async () => {
    const env = await envOf(site(), functionUrlEvent({ path: '/cgi-bin/env.sh/%7Euser/a%2Bb', query: 'q=%7e&r=a+b' }));
    expect(env.REQUEST_URI).toBe('/cgi-bin/env.sh/%7Euser/a%2Bb?q=%7e&r=a+b');
    expect(env.PATH_INFO).toBe('/~user/a+b');
  });

  it('UNIQUE_ID is the invocation request id', async () => {
    const h = site();
    expect((await envOf(h, httpApiEvent({ path: '/cgi-bin/env.sh' }), 'c0ffee-1')).UNIQUE_ID).toBe('c0ffee-1');
    expect((await envOf(h, httpApiEvent({ path: '/cgi-bin/env.sh' }), 'c0ffee-2')).UNIQUE_ID).toBe('c0ffee-2');
  });

  it('AUTH_TYPE and REMOTE_USER from an authorizer', async () => {
    const e = httpApiEvent({ path: '/cgi-bin/env.sh', headers: { authorization: 'Bearer t.o.k' } }, { authorizer: { jwt: { claims: { username: 'zoe' } } } });
    const env = await envOf(site(), e);
    expect(env.AUTH_TYPE).toBe('Bearer');
    expect(env.REMOTE_USER).toBe('zoe');
  });

  it('buildCgiEnv, directly', () => {
    const config = loadConfig({ CGI_ROOT: cgi, CGI_DOCUMENT_ROOT: '/srv/www', PATH: '/bin' });
    const req: HttpRequest = {
      source: 'rest', method: 'DELETE', path: '/cgi-bin/env.sh/x', basePath: '/v1', query: 'k=v',
      headers: { host: ['h.example'], 'x-a': ['1', '2'], cookie: ['a=1', 'b=2'], proxy: ['evil'] },
      body: Buffer.alloc(0), remoteAddr: '192.0.2.1', scheme: 'http', protocol: 'HTTP/1.0',
    };
    const env = buildCgiEnv({ config, req, file: '/real/env.sh', scriptName: '/cgi-bin/env.sh', pathInfo: '/x', requestId: 'r' });
    expect(env).toEqual({
      PATH: '/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', GATEWAY_INTERFACE: 'CGI/1.1', PATH_INFO: '/x', PATH_TRANSLATED: '/srv/www/x', QUERY_STRING: 'k=v',
      REMOTE_ADDR: '192.0.2.1', REMOTE_HOST: '192.0.2.1', REQUEST_METHOD: 'DELETE', SCRIPT_NAME: '/v1/cgi-bin/env.sh',
      SERVER_NAME: 'h.example', SERVER_PORT: '80', SERVER_PROTOCOL: 'HTTP/1.0', SERVER_SOFTWARE,
      REQUEST_URI: '/v1/cgi-bin/env.sh/x?k=v', SCRIPT_FILENAME: '/real/env.sh', DOCUMENT_ROOT: '/srv/www',
      REQUEST_SCHEME: 'http', REDIRECT_STATUS: '200', UNIQUE_ID: 'r',
      HTTP_HOST: 'h.example', HTTP_X_A: '1, 2', HTTP_COOKIE: 'a=1; b=2',
    });
  });
});

describe('HTTP_* variables', () => {
  it('dashes become underscores, names upper-case', async () => {
    const env = await envOf(site(), restEvent({ path: '/cgi-bin/env.sh', headers: { 'X-Request-Trace-Id': 't-1', accept: 'text/html', 'accept-language': 'fr' } }));
    expect(env.HTTP_X_REQUEST_TRACE_ID).toBe('t-1');
    expect(env.HTTP_ACCEPT).toBe('text/html');
    expect(env.HTTP_ACCEPT_LANGUAGE).toBe('fr');
  });

  it('repeated headers are joined with ", " (REST multiValueHeaders, any case)', async () => {
    const e = restEvent({ path: '/cgi-bin/env.sh', headers: { 'X-Multi': ['a', 'b'], Accept: ['text/html', 'application/json'] } });
    const env = await envOf(site(), e);
    expect(env.HTTP_X_MULTI).toBe('a, b');
    expect(env.HTTP_ACCEPT).toBe('text/html, application/json');
  });

  it('HTTP API v2 repeated headers arrive comma-joined and stay so', async () => {
    const env = await envOf(site(), httpApiEvent({ path: '/cgi-bin/env.sh', headers: { 'X-Multi': ['a', 'b'] } }));
    expect(env.HTTP_X_MULTI).toBe('a,b');
  });

  it('cookies are joined with "; "', async () => {
    const env = await envOf(site(), restEvent({ path: '/cgi-bin/env.sh', headers: { Cookie: ['a=1', 'b=2'] } }));
    expect(env.HTTP_COOKIE).toBe('a=1; b=2');
  });

  it('no HTTP_AUTHORIZATION by default; CGI_PASS_AUTH=on passes it', async () => {
    const e = () => restEvent({ path: '/cgi-bin/env.sh', headers: { Authorization: 'Basic dTpw' } });
    expect((await envOf(site(), e())).HTTP_AUTHORIZATION).toBeUndefined();
    expect((await envOf(site({ CGI_PASS_AUTH: 'on' }), e())).HTTP_AUTHORIZATION).toBe('Basic dTpw');
  });

  it('names holding anything but letters, digits and "-" are dropped: X_Forwarded_For cannot pose as X-Forwarded-For', async () => {
    const h = site();
    let env = await envOf(h, restEvent({ path: '/cgi-bin/env.sh', headers: { 'X-Forwarded-For': '203.0.113.1', X_Forwarded_For: '6.6.6.6' } }));
    expect(env.HTTP_X_FORWARDED_FOR).toBe('203.0.113.1');
    env = await envOf(h, restEvent({ path: '/cgi-bin/env.sh', headers: { X_Forwarded_For: '6.6.6.6', 'X.Dotted': 'd', 'X Space': 's', 'X-Ok': 'ok' } }));
    expect(env.HTTP_X_FORWARDED_FOR).toBeUndefined();
    expect(Object.values(env)).not.toContain('6.6.6.6');
    expect(Object.values(env)).not.toContain('d');
    expect(Object.values(env)).not.toContain('s');
    expect(env.HTTP_X_OK).toBe('ok');
  });
});

describe('a clean environment', () => {
  const FUNCTION_ENV = {
    AWS_ACCESS_KEY_ID: 'AKIAFUNCTIONKEY',
    AWS_SECRET_ACCESS_KEY: 'function-secret-key',
    AWS_SESSION_TOKEN: 'function-session-token',
    AWS_REGION: 'us-east-1',
    AWS_LAMBDA_FUNCTION_NAME: 'cgi',
    LAMBDA_TASK_ROOT: '/var/task',
    _HANDLER: 'handler.handler',
    NODE_OPTIONS: '--enable-source-maps',
    FOO: 'foo-value',
    LANG: 'en_US.UTF-8',
    TZ: 'Europe/Paris',
    LD_LIBRARY_PATH: '/opt/lib:/var/lang/lib',
    PERL5LIB: '/opt/lib/perl5',
    PATH: '/opt/bin:/usr/local/bin:/usr/bin:/bin',
  };

  it('the function\'s own variables never reach a script; PATH, TZ, LD_LIBRARY_PATH, PERL5LIB do', async () => {
    const env = await envOf(site(FUNCTION_ENV), httpApiEvent({ path: '/cgi-bin/env.sh' }));
    expect(env.AWS_ACCESS_KEY_ID).toBeUndefined();
    expect(env.AWS_SECRET_ACCESS_KEY).toBeUndefined();
    expect(env.AWS_SESSION_TOKEN).toBeUndefined();
    expect(env.FOO).toBeUndefined();
    const values = Object.values(env).join('\n');
    expect(values).not.toContain('function-secret-key');
    expect(values).not.toContain('function-session-token');
    expect(values).not.toContain('AKIAFUNCTIONKEY');
    for (const key of Object.keys(env)) {
      if (!key.startsWith('HTTP_')) expect(ALLOWED.has(key) ? key : `unexpected ${key}`).toBe(key);
    }
    expect(env.PATH).toBe('/opt/bin:/usr/local/bin:/usr/bin:/bin');
    expect(env.LANG).toBe('C.UTF-8');
    expect(env.LC_ALL).toBe('C.UTF-8');
    expect(env.TZ).toBe('Europe/Paris');
    expect(env.LD_LIBRARY_PATH).toBe('/opt/lib:/var/lang/lib');
    expect(env.PERL5LIB).toBe('/opt/lib/perl5');
  });

  it('the locale is C.UTF-8 (AL2023 has no en_US.UTF-8); CGI_ENV_ or CGI_PASS_ENV naming a locale variable replaces it', async () => {
    const h = site(FUNCTION_ENV);
    let env = await envOf(site({ ...FUNCTION_ENV, CGI_ENV_LANG: 'fr_FR.UTF-8' }), httpApiEvent({ path: '/cgi-bin/env.sh' }));
    expect([env.LANG, env.LC_ALL]).toEqual(['fr_FR.UTF-8', undefined]);
    env = await envOf(site({ ...FUNCTION_ENV, CGI_ENV_LC_ALL: 'C' }), httpApiEvent({ path: '/cgi-bin/env.sh' }));
    expect([env.LANG, env.LC_ALL]).toEqual([undefined, 'C']);
    env = await envOf(site({ ...FUNCTION_ENV, CGI_PASS_ENV: 'LANG' }), httpApiEvent({ path: '/cgi-bin/env.sh' }));
    expect([env.LANG, env.LC_ALL]).toEqual(['en_US.UTF-8', undefined]);
    env = await envOf(h, httpApiEvent({ path: '/cgi-bin/env.sh' }));
    expect([env.LANG, env.LC_ALL]).toEqual(['C.UTF-8', 'C.UTF-8']);
  });

  it('a Perl script prints no locale warning under Lambda\'s LANG=en_US.UTF-8 (no PERL_BADLANG needed)', async () => {
    const h = site({ ...FUNCTION_ENV, PATH: process.env.PATH ?? '/usr/bin:/bin' });
    const res = await call(h, httpApiEvent({ path: '/cgi-bin/locale.pl' }), 'req-locale');
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('ok\n');
    expect(h.err.filter((l) => /locale|LC_ALL|LANG/i.test(l))).toEqual([]);
    // Without the default the same script does warn here: the test can fail.
    const bare = site({ ...FUNCTION_ENV, PATH: process.env.PATH ?? '/usr/bin:/bin', CGI_PASS_ENV: 'LANG', LANG: 'xx_XX.UTF-8' });
    await call(bare, httpApiEvent({ path: '/cgi-bin/locale.pl' }), 'req-locale-2');
    expect(bare.err.join('')).toMatch(/locale/i);
  });

  it('CGI_PASS_ENV=FOO passes FOO', async () => {
    const env = await envOf(site({ ...FUNCTION_ENV, CGI_PASS_ENV: 'FOO' }), httpApiEvent({ path: '/cgi-bin/env.sh' }));
    expect(env.FOO).toBe('foo-value');
    expect(env.AWS_REGION).toBeUndefined();
  });

  it('CGI_PASS_ENV can never pass the credentials', async () => {
    const h = site({ ...FUNCTION_ENV, CGI_PASS_ENV: 'AWS_SECRET_ACCESS_KEY,AWS_ACCESS_KEY_ID AWS_SESSION_TOKEN,FOO' });
    const env = await envOf(h, httpApiEvent({ path: '/cgi-bin/env.sh' }));
    expect(env.AWS_SECRET_ACCESS_KEY).toBeUndefined();
    expect(env.AWS_ACCESS_KEY_ID).toBeUndefined();
    expect(env.AWS_SESSION_TOKEN).toBeUndefined();
    expect(env.FOO).toBe('foo-value');
  });

  it('CGI_ENV_NAME=value sets NAME for every script', async () => {
    const h = site({ CGI_ENV_APP_MODE: 'production', CGI_ENV_GREETING: 'hello world' });
    for (const path of ['/cgi-bin/env.sh', '/cgi-bin/env.bash']) {
      const env = await envOf(h, httpApiEvent({ path }));
      expect(env.APP_MODE).toBe('production');
      expect(env.GREETING).toBe('hello world');
      expect(env.CGI_ENV_APP_MODE).toBeUndefined();
    }
  });

  it('PATH defaults to a standard one when the function has none', async () => {
    const env = await envOf(site({ PATH: undefined }), httpApiEvent({ path: '/cgi-bin/env.sh' }));
    expect(env.PATH).toBe('/usr/local/bin:/usr/bin:/bin');
  });
});

describe('defences', () => {
  it('httpoxy: a Proxy header never becomes HTTP_PROXY, nor does the function\'s own HTTP_PROXY', async () => {
    const h = site({ HTTP_PROXY: 'http://corp-proxy:3128', CGI_PASS_ENV: 'HTTP_PROXY', CGI_ENV_HTTP_PROXY: 'http://set-proxy:1' });
    for (const event of [
      restEvent({ path: '/cgi-bin/env.sh', headers: { Proxy: 'http://evil.example:8080' } }),
      httpApiEvent({ path: '/cgi-bin/env.sh', headers: { proxy: 'http://evil.example:8080' } }),
      albEvent({ path: '/cgi-bin/env.sh', headers: { PROXY: 'http://evil.example:8080' } }, { multi: true }),
    ]) {
      const env = await envOf(h, event);
      expect(env.HTTP_PROXY).toBeUndefined();
      expect(Object.values(env).join('\n')).not.toContain('evil.example');
    }
  });

  it('Shellshock: header values shaped like a bash function are dropped; a real bash script proves nothing ran', async () => {
    const payload = `() { :; }; /usr/bin/touch ${mark}`;
    const e = restEvent({
      path: '/cgi-bin/env.bash',
      headers: {
        'User-Agent': payload,
        Referer: ` ${payload}`,
        'X-Evil': `() {  _; } >_[$($())] { /usr/bin/touch ${mark}; }`,
        Cookie: payload,
        'Content-Type': payload,
        'X-Fine': '(a) { b }',
      },
    });
    const h = site();
    const env = await envOf(h, e);
    expect(env.HTTP_USER_AGENT).toBeUndefined();
    expect(env.HTTP_REFERER).toBeUndefined();
    expect(env.HTTP_X_EVIL).toBeUndefined();
    expect(env.HTTP_COOKIE).toBeUndefined();
    expect(env.CONTENT_TYPE).toBeUndefined();
    expect(env.HTTP_X_FINE).toBe('(a) { b }');
    expect(Object.values(env).some((v) => /^\s*\(\)\s*\{/.test(v))).toBe(false);
    expect(existsSync(mark)).toBe(false);
  });

  it('Shellshock: nor through SERVER_NAME or SERVER_PORT, which come from Host and X-Forwarded-Port', async () => {
    const payload = `() { :; }; /usr/bin/touch ${mark}`;
    const h = site();
    const plain = await envOf(h, httpApiEvent({ path: '/cgi-bin/env.bash' }));
    const env = await envOf(h, httpApiEvent({ path: '/cgi-bin/env.bash', headers: { host: payload, 'x-forwarded-port': payload } }));
    expect(env.HTTP_HOST).toBeUndefined();
    expect(env.HTTP_X_FORWARDED_PORT).toBeUndefined();
    expect(env.SERVER_NAME).toBe(plain.SERVER_NAME);
    expect(env.SERVER_PORT).toBe(plain.SERVER_PORT);
    expect(Object.values(env).some((v) => /^\s*\(\)\s*\{/.test(v))).toBe(false);
    expect(existsSync(mark)).toBe(false);
  });

  it('Shellshock: nor through REMOTE_ADDR from an ALB X-Forwarded-For the client wrote', async () => {
    const payload = `() { :; }; /usr/bin/touch ${mark}`;
    const env = await envOf(site(), albEvent({ path: '/cgi-bin/env.bash', sourceIp: `${payload}, 198.51.100.7` }, { multi: true }));
    expect(env.REMOTE_ADDR).toMatch(/^[0-9A-Fa-f.:]+$/);
    expect(env.REMOTE_HOST).toBe(env.REMOTE_ADDR);
    expect(Object.values(env).some((v) => /^\s*\(\)\s*\{/.test(v))).toBe(false);
    expect(existsSync(mark)).toBe(false);
  });

  it('a NUL in a header value drops that header and the request still runs', async () => {
    const h = site();
    const env = await envOf(h, restEvent({
      path: '/cgi-bin/env.sh',
      headers: { 'X-Nul': 'a\u0000b', 'X-Ok': 'fine', 'Content-Type': 'text/plain\u0000x', Cookie: ['a=1', 'b=\u00002'], 'X-N\u0000ame': 'v' },
    }));
    expect(env.HTTP_X_NUL).toBeUndefined();
    expect(env.CONTENT_TYPE).toBeUndefined();
    expect(env.HTTP_COOKIE).toBeUndefined();
    expect(env.HTTP_X_OK).toBe('fine');
    expect(Object.keys(env).filter((k) => k.startsWith('HTTP_X_N'))).toEqual([]);
  });

  it('a NUL in the Host or the forwarded address does not break the request either', async () => {
    const h = site();
    const plain = await envOf(h, httpApiEvent({ path: '/cgi-bin/env.sh' }));
    const env = await envOf(h, httpApiEvent({ path: '/cgi-bin/env.sh', headers: { host: 'www.example.com\u0000.evil', 'x-forwarded-port': '44\u00003' } }));
    expect(env.HTTP_HOST).toBeUndefined();
    expect(env.SERVER_NAME).toBe(plain.SERVER_NAME);
    expect(env.SERVER_PORT).toBe(plain.SERVER_PORT);
    const alb = await envOf(h, albEvent({ path: '/cgi-bin/env.sh', sourceIp: '198.51.100.7\u0000, 10.0.0.1' }, { multi: false }));
    expect(alb.REMOTE_ADDR).toMatch(/^[0-9A-Fa-f.:]+$/);
  });
});

describe('ISINDEX queries become argv (RFC 3875 §4.4)', () => {
  async function argv(h: Harness, query: string): Promise<string[]> {
    const res = await call(h, httpApiEvent({ path: '/cgi-bin/args.sh', query }));
    expect(res.status).toBe(200);
    const lines = res.body.toString().split('\n');
    const n = Number(lines[0]);
    return lines.slice(1, 1 + n);
  }

  it('"?hello+world" gives two words', async () => {
    expect(await argv(site(), 'hello+world')).toEqual(['hello', 'world']);
  });

  it('"?a=b" gives none', async () => {
    expect(await argv(site(), 'a=b')).toEqual([]);
    expect(await argv(site(), 'x+y=z')).toEqual([]);
  });

  it('words are percent-decoded: "%2B" is a plus, "%20" a space inside one word', async () => {
    const h = site();
    expect(await argv(h, '%2B')).toEqual(['+']);
    expect(await argv(h, 'caf%C3%A9+a%20b+%3D')).toEqual(['café', 'a b', '=']);
  });

  it('no query, no arguments; a word with a shell metacharacter is just a word', async () => {
    const h = site();
    expect(await argv(h, '')).toEqual([]);
    expect(await argv(h, '%3Btouch%20' + encodeURIComponent(mark))).toEqual([`;touch ${mark}`]);
    expect(existsSync(mark)).toBe(false);
  });

  it('REST v1 rebuilt query stays ISINDEX', async () => {
    const res = await call(site(), restEvent({ path: '/cgi-bin/args.sh', query: 'hello+world' }));
    expect(res.body.toString()).toBe('2\nhello\nworld\n');
  });

  it('isindexArgs, directly', () => {
    expect(isindexArgs('hello+world')).toEqual(['hello', 'world']);
    expect(isindexArgs('a=b')).toEqual([]);
    expect(isindexArgs('%2B')).toEqual(['+']);
    expect(isindexArgs('')).toEqual([]);
    expect(isindexArgs('%zz')).toEqual([]);
    expect(isindexArgs('a%00b')).toEqual([]);
  });
});

describe('the working directory', () => {
  it('is the script\'s own directory', async () => {
    const res = await call(site(), httpApiEvent({ path: '/cgi-bin/deep/dir/pwd.sh/x' }));
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe(realpathSync(join(cgi, 'deep/dir')) + '\n');
  });
});

describe('a local redirect (Location: /path, no Status)', () => {
  it('runs a GET for that path internally, with REDIRECT_URL and REDIRECT_QUERY_STRING', async () => {
    const e = restEvent({
      method: 'POST', path: '/cgi-bin/go.sh/extra', query: 'orig=1',
      body: 'payload=1', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    }, { stage: 'prod' });
    const env = await envOf(site(), e);
    expect(env.SCRIPT_NAME).toBe('/prod/cgi-bin/env.sh');
    expect(env.REQUEST_METHOD).toBe('GET');
    expect(env.REDIRECT_URL).toBe('/prod/cgi-bin/go.sh/extra');
    expect(env.REDIRECT_QUERY_STRING).toBe('orig=1');
    expect(env.REDIRECT_STATUS).toBe('200');
    expect(env.QUERY_STRING).toBe('');
    expect(env.CONTENT_LENGTH).toBeUndefined();
    expect(env.CONTENT_TYPE).toBeUndefined();
    expect(env.PATH_INFO).toBeUndefined();
  });

  it('no REDIRECT_QUERY_STRING when the first request had no query', async () => {
    const env = await envOf(site(), httpApiEvent({ path: '/cgi-bin/go.sh' }));
    expect(env.REDIRECT_URL).toBe('/cgi-bin/go.sh');
    expect(env.REDIRECT_QUERY_STRING).toBeUndefined();
  });

  it('the redirected GET gets no request body', async () => {
    const res = await call(site(), httpApiEvent({ method: 'POST', path: '/cgi-bin/go-cat.sh', body: 'secret body' }));
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('[]');
  });

  it('without a redirect there is no REDIRECT_URL', async () => {
    const env = await envOf(site(), httpApiEvent({ path: '/cgi-bin/env.sh' }));
    expect(env.REDIRECT_URL).toBeUndefined();
    expect(env.REDIRECT_QUERY_STRING).toBeUndefined();
  });
});
