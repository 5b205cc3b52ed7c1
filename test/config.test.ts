/**
 * Settings as serverless.yml hands them over: every variable present, unset
 * ones as ''. An empty value must mean "the default", never "off" or "root".
 */
import { join, resolve } from 'node:path';
import { ConfigError, loadConfig } from '../handler/config';
import { createHandler } from '../handler/index';
import { createLogger } from '../handler/log';

describe('loadConfig', () => {
  it('defaults: the layer paths under /opt, /cgi-bin, index.cgi then index.pl', () => {
    const c = loadConfig({});
    expect(c.root).toBe('/opt/cgi-bin');
    expect(c.prefix).toBe('/cgi-bin');
    expect(c.documentRoot).toBe('/opt/htdocs');
    expect(c.indexNames).toEqual(['index.cgi', 'index.pl']);
    expect(c.timeoutMs).toBeUndefined();
    expect(c.maxBodyBytes).toBe(6 * 1024 * 1024);
    expect(c.maxHeaderBytes).toBe(64 * 1024);
    expect(c.passAuth).toBe(false);
    expect(c.serveStatic).toBe(true);
    expect(c.directorySlash).toBe(true);
    expect(c.basePath).toBeUndefined();
    expect(c.logFormat).toBe('json');
    expect(c.passedEnv).toEqual({ PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' });
  });

  it('empty values, as serverless.yml sends unset ones, mean the default', () => {
    const c = loadConfig({
      CGI_TIMEOUT_MS: '', CGI_PASS_AUTH: '', CGI_STATIC: '', CGI_DIRECTORY_SLASH: '', CGI_BASE_PATH: '',
      CGI_SERVER_NAME: '', CGI_SERVER_ADMIN: '', CGI_PASS_ENV: '',
    });
    expect(c.timeoutMs).toBeUndefined();
    expect(c.passAuth).toBe(false);
    expect(c.serveStatic).toBe(true);
    expect(c.directorySlash).toBe(true);
    expect(c.basePath).toBeUndefined();
    expect(c.serverName).toBeUndefined();
    expect(c.serverAdmin).toBeUndefined();
  });

  it('under serverless-offline: /opt paths read from ./layers, no trailing-slash redirect unless asked', () => {
    const c = loadConfig({ IS_OFFLINE: 'true', CGI_DIRECTORY_SLASH: '', CGI_INTERPRETERS: '/usr/bin/perl=/opt/bin/perl' });
    expect(c.root).toBe(join(resolve('layers'), 'cgi-bin'));
    expect(c.documentRoot).toBe(join(resolve('layers'), 'htdocs'));
    expect(c.interpreterByPath.get('/usr/bin/perl')).toBe(join(resolve('layers'), 'bin/perl'));
    expect(c.directorySlash).toBe(false);
    expect(loadConfig({ IS_OFFLINE: 'true', CGI_DIRECTORY_SLASH: 'on' }).directorySlash).toBe(true);
    expect(loadConfig({ IS_OFFLINE: 'true', CGI_OFFLINE_LAYER_DIR: '/srv/site' }).root).toBe('/srv/site/cgi-bin');
    expect(loadConfig({ IS_OFFLINE: 'true', CGI_ROOT: '/srv/cgi' }).root).toBe('/srv/cgi');
  });

  it('prefixes and base paths are normalised; "/" means the root and no base path', () => {
    expect(loadConfig({ CGI_PREFIX: '/' }).prefix).toBe('');
    expect(loadConfig({ CGI_PREFIX: 'scripts/' }).prefix).toBe('/scripts');
    expect(loadConfig({ CGI_BASE_PATH: '/' }).basePath).toBe('');
    expect(loadConfig({ CGI_BASE_PATH: 'shop/' }).basePath).toBe('/shop');
  });

  it('pass-through environment: the defaults, CGI_PASS_ENV, never the credentials; CGI_ENV_* fixed variables', () => {
    const c = loadConfig({
      PATH: '/bin', TZ: ':UTC', PERL5LIB: '/opt/lib', HOME: '/root', DB_HOST: 'db', AWS_SECRET_ACCESS_KEY: 's',
      CGI_PASS_ENV: 'DB_HOST, AWS_SECRET_ACCESS_KEY', CGI_ENV_SITE: 'acme', CGI_ENV_AWS_SESSION_TOKEN: 't',
    });
    expect(c.passedEnv).toEqual({ PATH: '/bin', TZ: ':UTC', PERL5LIB: '/opt/lib', DB_HOST: 'db', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' });
    expect(c.fixedEnv).toEqual({ SITE: 'acme' });
  });

  it('interpreters: paths remap shebangs, extensions map files; a malformed entry is a clear error', () => {
    const c = loadConfig({ CGI_INTERPRETERS: '/usr/bin/perl=/opt/bin/perl,.PY=/usr/bin/python3' });
    expect(c.interpreterByPath.get('/usr/bin/perl')).toBe('/opt/bin/perl');
    expect(c.interpreterByExt.get('.py')).toBe('/usr/bin/python3');
    expect(() => loadConfig({ CGI_INTERPRETERS: '/usr/bin/perl' })).toThrow(ConfigError);
    expect(() => loadConfig({ CGI_INTERPRETERS: '/usr/bin/perl' })).toThrow(/CGI_INTERPRETERS entry "\/usr\/bin\/perl"/);
  });

  it('numbers must be positive integers', () => {
    expect(loadConfig({ CGI_TIMEOUT_MS: '2500' }).timeoutMs).toBe(2500);
    expect(() => loadConfig({ CGI_TIMEOUT_MS: '-1' })).toThrow(/CGI_TIMEOUT_MS must be a positive integer/);
    expect(() => loadConfig({ CGI_MAX_BODY_BYTES: '1e3x' })).toThrow(ConfigError);
  });
});

describe('a misconfigured function', () => {
  it('answers 500 and logs the reason, instead of crashing', async () => {
    const err: string[] = [];
    const saved = process.env.CGI_TIMEOUT_MS;
    process.env.CGI_TIMEOUT_MS = 'soon';
    try {
      const handler = createHandler({ logger: createLogger('json', () => {}, (s) => void err.push(s)) });
      const result = await handler(
        { version: '2.0', rawPath: '/', rawQueryString: '', headers: {}, requestContext: { http: { method: 'GET' } } },
        { awsRequestId: 'req-cfg' },
      );
      expect(result.statusCode).toBe(500);
      expect(String(result.body)).not.toMatch(/CGI_TIMEOUT_MS/);
      expect(JSON.parse(err[0])).toMatchObject({ level: 'error', requestId: 'req-cfg' });
      expect(JSON.parse(err[0]).message).toMatch(/misconfigured: CGI_TIMEOUT_MS must be a positive integer, got "soon"/);
    } finally {
      if (saved === undefined) delete process.env.CGI_TIMEOUT_MS;
      else process.env.CGI_TIMEOUT_MS = saved;
    }
  });
});
