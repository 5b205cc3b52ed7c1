/**
 * Logging: one access-log line per request (JSON by default, Apache combined on
 * request), and every stderr, warning and error line tagged with the request id.
 * The real logger writes into the harness's arrays instead of stdout/stderr.
 */
import { ConfigError, loadConfig } from '../handler/config';
import { STARTUP_CHECKS, startupProblems } from '../handler/startup';
import { albEvent, answerOf, httpApiEvent, restEvent } from './support/events';
import { jsonLines } from './support/processes';
import { cleanup, harness, makeTree, type Harness } from './support/site';

const CLF_TIME = String.raw`\[\d{2}/(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]`;

describe('logging', () => {
  let root: string;
  let bin: string;

  beforeAll(() => {
    root = makeTree({
      'cgi-bin/x': `#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nhello\\n'\n`,
      'cgi-bin/png': `#!/bin/sh\nprintf 'Content-Type: image/png\\n\\n\\211PNG\\r\\n'\n`,
      'cgi-bin/chatty.sh': `#!/bin/sh\necho "warming up" >&2\nprintf 'Content-Type: text/plain\\n\\nok\\n'\necho "done: 42 rows" >&2\n`,
      'cgi-bin/broken.sh': `#!/bin/sh\necho "cannot connect to db" >&2\nexit 1\n`,
      'cgi-bin/slow.sh': `#!/bin/sh\nexec sleep 30\n`,
      'cgi-bin/redirect.sh': `#!/bin/sh\nprintf 'Location: /cgi-bin/x?from=redirect\\n\\n'\n`,
      'cgi-bin/away.sh': `#!/bin/sh\nprintf 'Location: https://example.com/\\n\\n'\n`,
    });
    bin = `${root}/cgi-bin`;
  });
  afterAll(() => cleanup(root));

  describe('JSON (default)', () => {
    let h: Harness;
    beforeAll(() => {
      h = harness({ CGI_ROOT: bin, CGI_DOCUMENT_ROOT: root, CGI_TIMEOUT_MS: '300', CGI_MAX_BODY_BYTES: '100' });
    });
    beforeEach(() => h.clearLogs());

    it('one access line with method, uri, status, bytes, duration, script, request id and client address', async () => {
      const ev = restEvent({ path: '/cgi-bin/x', query: 'y=1', headers: { 'User-Agent': 'agent/1.0', Referer: 'https://ref.example/' } }, { stage: 'prod' });
      const res = answerOf(await h.invoke(ev, { awsRequestId: 'req-json' }));
      expect(res.status).toBe(200);
      expect(h.err).toEqual([]);
      expect(h.out).toHaveLength(1);
      expect(h.out[0].endsWith('\n')).toBe(true);
      expect(h.out[0].indexOf('\n')).toBe(h.out[0].length - 1);
      const line = JSON.parse(h.out[0]);
      expect(line).toMatchObject({
        type: 'access',
        requestId: 'req-json',
        method: 'GET',
        uri: '/prod/cgi-bin/x?y=1',
        protocol: 'HTTP/1.1',
        status: 200,
        bytes: 6,
        script: '/prod/cgi-bin/x',
        remoteAddr: '203.0.113.9',
        userAgent: 'agent/1.0',
        referer: 'https://ref.example/',
      });
      expect(Number.isInteger(line.durationMs)).toBe(true);
      expect(line.durationMs).toBeGreaterThanOrEqual(0);
      expect(Number.isNaN(Date.parse(line.time))).toBe(false);
    });

    it('the uri is the raw path and query; the client address comes from X-Forwarded-For on ALB', async () => {
      await h.invoke(httpApiEvent({ path: '/cgi-bin/x/a%20b', query: 'q=%41+b&c' }), { awsRequestId: 'req-uri' });
      await h.invoke(albEvent({ path: '/cgi-bin/x', sourceIp: '198.51.100.7' }, { multi: false }), { awsRequestId: 'req-alb' });
      const [v2, alb] = jsonLines(h.out);
      expect(v2.uri).toBe('/cgi-bin/x/a%20b?q=%41+b&c');
      expect(v2.script).toBe('/cgi-bin/x');
      expect(alb.remoteAddr).toBe('198.51.100.7');
      expect(alb.requestId).toBe('req-alb');
    });

    it('a huge URI is capped in the access line (8190 characters, then how many were left out)', async () => {
      const query = `q=${'a'.repeat(60_000)}`;
      const big = harness({ CGI_ROOT: bin });
      const res = answerOf(await big.invoke(httpApiEvent({ path: '/cgi-bin/x', query }), { awsRequestId: 'req-big' }));
      expect(res.status).toBe(200);
      const [line] = jsonLines(big.out);
      const full = `/cgi-bin/x?${query}`;
      expect(line.uri).toBe(`${full.slice(0, 8190)}...[${full.length - 8190} more characters]`);
      expect(big.out[0].length).toBeLessThan(9000);
      await big.invoke(httpApiEvent({ path: `/${'b'.repeat(20_000)}` }), { awsRequestId: 'req-big-404' });
      expect(big.err.join('').length).toBeLessThan(9000);
      expect(JSON.parse(big.out[1]).uri).toMatch(/\.\.\.\[11811 more characters\]$/);
    });

    it('bytes counts body bytes sent: raw bytes for a base64 body, 0 for HEAD', async () => {
      await h.invoke(httpApiEvent({ path: '/cgi-bin/png' }), { awsRequestId: 'req-png' });
      await h.invoke(httpApiEvent({ method: 'HEAD', path: '/cgi-bin/x' }), { awsRequestId: 'req-head' });
      const [png, head] = jsonLines(h.out);
      expect(png.bytes).toBe(6);
      expect(head).toMatchObject({ method: 'HEAD', status: 200, bytes: 0 });
    });

    it('exactly one access line per request, whatever the outcome', async () => {
      const cases: Array<[string, Record<string, any>, number, string | undefined]> = [
        ['req-200', httpApiEvent({ path: '/cgi-bin/x' }), 200, '/cgi-bin/x'],
        ['req-404', httpApiEvent({ path: '/cgi-bin/nope' }), 404, undefined],
        ['req-500', httpApiEvent({ path: '/cgi-bin/broken.sh' }), 500, '/cgi-bin/broken.sh'],
        ['req-504', httpApiEvent({ path: '/cgi-bin/slow.sh' }), 504, '/cgi-bin/slow.sh'],
        ['req-413', httpApiEvent({ method: 'POST', path: '/cgi-bin/x', body: 'z'.repeat(101) }), 413, undefined],
        ['req-302', httpApiEvent({ path: '/cgi-bin/away.sh' }), 302, '/cgi-bin/away.sh'],
        ['req-local', httpApiEvent({ path: '/cgi-bin/redirect.sh' }), 200, '/cgi-bin/x'],
      ];
      for (const [id, event, status] of cases) {
        const res = await h.invoke(event, { awsRequestId: id });
        expect(res.statusCode).toBe(status);
      }
      const lines = jsonLines(h.out);
      expect(lines.map((l) => [l.requestId, l.status, l.script])).toEqual(cases.map(([id, , status, script]) => [id, status, script]));
      expect(lines.every((l) => l.type === 'access')).toBe(true);
    });

    it('a malformed request answered 400 gets its access line too', async () => {
      const event = httpApiEvent({ path: '/cgi-bin/x' });
      event.requestContext.http.method = 'GE T';
      const res = await h.invoke(event, { awsRequestId: 'req-400' });
      expect(res.statusCode).toBe(400);
      const lines = jsonLines(h.out);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ type: 'access', requestId: 'req-400', status: 400 });
    });

    it('stderr lines carry the request id and the script', async () => {
      const res = answerOf(await h.invoke(httpApiEvent({ path: '/cgi-bin/chatty.sh' }), { awsRequestId: 'req-chatty' }));
      expect(res.body.toString()).toBe('ok\n');
      const lines = jsonLines(h.err);
      expect(lines.map((l) => [l.type, l.requestId, l.script, l.message])).toEqual([
        ['stderr', 'req-chatty', '/cgi-bin/chatty.sh', 'warming up'],
        ['stderr', 'req-chatty', '/cgi-bin/chatty.sh', 'done: 42 rows'],
      ]);
    });

    it('error and warning lines carry the request id', async () => {
      await h.invoke(httpApiEvent({ path: '/cgi-bin/broken.sh' }), { awsRequestId: 'req-broken' });
      await h.invoke(httpApiEvent({ path: '/cgi-bin/nope' }), { awsRequestId: 'req-missing' });
      const lines = jsonLines(h.err);
      expect(lines.map((l) => [l.level, l.requestId])).toEqual([
        ['info', 'req-broken'],
        ['error', 'req-broken'],
        ['warn', 'req-missing'],
      ]);
      expect(lines[0]).toMatchObject({ type: 'stderr', message: 'cannot connect to db' });
      expect(lines[1].message).toMatch(/no output/);
      expect(lines[1].stderrTail).toEqual(['cannot connect to db']);
      expect(lines[1].script).toBe('/cgi-bin/broken.sh');
    });
  });

  describe('Apache combined', () => {
    let h: Harness;
    beforeAll(() => {
      h = harness({ CGI_ROOT: bin, CGI_LOG_FORMAT: 'combined', CGI_TIMEOUT_MS: '5000' });
    });
    beforeEach(() => h.clearLogs());

    it('writes an Apache combined line, then duration, script and request id', async () => {
      await h.invoke(httpApiEvent({ path: '/cgi-bin/x', query: 'y=1', headers: { 'user-agent': 'agent' } }), { awsRequestId: 'req-comb' });
      expect(h.out).toHaveLength(1);
      expect(h.out[0]).toMatch(
        new RegExp(`^203\\.0\\.113\\.9 - - ${CLF_TIME} "GET /cgi-bin/x\\?y=1 HTTP/1\\.1" 200 6 "-" "agent" \\d+(?:ms)? /cgi-bin/x req-comb\\n$`),
      );
    });

    it('caps a huge URI as the JSON format does', async () => {
      await h.invoke(httpApiEvent({ path: '/cgi-bin/x', query: `q=${'a'.repeat(30_000)}` }), { awsRequestId: 'req-comb-big' });
      expect(h.out[0]).toContain(`"GET /cgi-bin/x?q=${'a'.repeat(8190 - 13)}...[21823 more characters] HTTP/1.1" 200`);
    });

    it('shows the referer, the authenticated user, "-" for no script, and escapes quotes', async () => {
      const authed = httpApiEvent(
        { path: '/cgi-bin/x', headers: { referer: 'https://ref.example/a', 'user-agent': 'Mozilla "quoted"' } },
        { authorizer: { jwt: { claims: { username: 'alice' } } } },
      );
      await h.invoke(authed, { awsRequestId: 'req-alice' });
      await h.invoke(restEvent({ path: '/cgi-bin/nope' }, { stage: 'dev' }), { awsRequestId: 'req-none' });
      expect(h.out).toHaveLength(2);
      expect(h.out[0]).toMatch(
        new RegExp(`^203\\.0\\.113\\.9 - alice ${CLF_TIME} "GET /cgi-bin/x HTTP/1\\.1" 200 6 "https://ref\\.example/a" "Mozilla \\\\"quoted\\\\"" \\d+(?:ms)? /cgi-bin/x req-alice\\n$`),
      );
      expect(h.out[1]).toMatch(
        new RegExp(`^203\\.0\\.113\\.9 - - ${CLF_TIME} "GET /dev/cgi-bin/nope HTTP/1\\.1" 404 \\d+ "-" "-" \\d+(?:ms)? - req-none\\n$`),
      );
    });

    it('stderr and error lines carry the request id', async () => {
      await h.invoke(httpApiEvent({ path: '/cgi-bin/broken.sh' }), { awsRequestId: 'req-comb-err' });
      expect(h.err).toHaveLength(2);
      expect(h.err[0]).toMatch(new RegExp(`^${CLF_TIME} \\[cgi:stderr\\] \\[req-comb-err\\] /cgi-bin/broken\\.sh: cannot connect to db\\n$`));
      expect(h.err[1]).toMatch(new RegExp(`^${CLF_TIME} \\[cgi:error\\] \\[req-comb-err\\] bad script response: script produced no output`));
      expect(h.err[1].indexOf('\n')).toBe(h.err[1].length - 1);
    });

    it('the format name is case-insensitive', () => {
      expect(loadConfig({ CGI_ROOT: bin, CGI_LOG_FORMAT: 'COMBINED' }).logFormat).toBe('combined');
      expect(loadConfig({ CGI_ROOT: bin }).logFormat).toBe('json');
    });
  });

  it('an invalid CGI_LOG_FORMAT makes loadConfig throw a clear error', () => {
    for (const bad of ['xml', 'apache', 'jsonl']) {
      let caught: unknown;
      try {
        loadConfig({ CGI_ROOT: bin, CGI_LOG_FORMAT: bad });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      const message = (caught as Error).message;
      expect(message).toContain('CGI_LOG_FORMAT');
      expect(message).toContain(`"${bad}"`);
      expect(message).toContain('json');
      expect(message).toContain('combined');
    }
  });
});

describe('start-up checks', () => {
  it('one warning line per configured directory that does not exist, on the first request only', async () => {
    const h = harness({ CGI_ROOT: '/nonexistent/cgi-bin', CGI_DOCUMENT_ROOT: '/nonexistent/htdocs' });
    await h.invoke(httpApiEvent({ path: '/cgi-bin/x' }), { awsRequestId: 'req-a' });
    await h.invoke(httpApiEvent({ path: '/index.html' }), { awsRequestId: 'req-b' });
    const startup = jsonLines(h.err).filter((l) => l.requestId === 'startup');
    expect(startup.map((l) => [l.level, l.message])).toEqual([
      ['warn', expect.stringMatching(/^CGI_ROOT \/nonexistent\/cgi-bin does not exist: every \/cgi-bin URL will be 404; is the site layer attached/)],
      ['warn', expect.stringMatching(/^CGI_DOCUMENT_ROOT \/nonexistent\/htdocs does not exist: every static URL will be 404/)],
    ]);
  });

  it('nothing when both exist, nor for a missing document root with CGI_STATIC=off', async () => {
    const root = makeTree({ 'cgi-bin/x': '#!/bin/sh\n', 'htdocs/i.html': 'x' });
    try {
      for (const env of [{ CGI_DOCUMENT_ROOT: `${root}/htdocs` }, { CGI_DOCUMENT_ROOT: '/nonexistent', CGI_STATIC: 'off' }]) {
        const h = harness({ CGI_ROOT: `${root}/cgi-bin`, ...env });
        await h.invoke(httpApiEvent({ path: '/cgi-bin/x' }));
        expect(jsonLines(h.err).filter((l) => l.requestId === 'startup')).toEqual([]);
      }
    } finally {
      cleanup(root);
    }
  });

  it('startupProblems takes more checks (the table is open to other settings)', () => {
    const config = loadConfig({ CGI_ROOT: '/nonexistent/a', CGI_STATIC: 'off' });
    expect(startupProblems(config, [...STARTUP_CHECKS, () => ['extra problem']])).toEqual([
      expect.stringContaining('CGI_ROOT /nonexistent/a does not exist'),
      'extra problem',
    ]);
  });
});
