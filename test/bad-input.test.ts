/**
 * Hostile and broken input across every event format: random bytes (seeded, so
 * every run is the same) in paths, header names and values, queries and bodies;
 * oversized requests; junk where the event should hold strings. The handler
 * must never throw or hang, and must answer a sensible status with an error
 * page that gives nothing away.
 */
import {
  albEvent, answerOf, functionUrlEvent, httpApiEvent, restEvent, type Answer, type ClientRequest, type Event,
} from './support/events';
import { expectErrorPage, jsonLines, prng, randomBytes } from './support/processes';
import { cleanup, harness, makeTree, parseEnv0, PRINTENV_SH, type Harness } from './support/site';

type Format = 'rest' | 'http' | 'url' | 'alb' | 'alb-multi';
const FORMATS: Format[] = ['rest', 'http', 'url', 'alb', 'alb-multi'];

function build(format: Format, req: ClientRequest): Event {
  switch (format) {
    case 'rest':
      return restEvent(req, { stage: 'prod' });
    case 'http':
      return httpApiEvent(req);
    case 'url':
      return functionUrlEvent(req);
    case 'alb':
      return albEvent(req, { multi: false });
    case 'alb-multi':
      return albEvent(req, { multi: true });
  }
}

/** Puts a path into an event exactly as given, bypassing the builders' own decoding. */
function withRawPath(format: Format, event: Event, path: string): Event {
  if (format === 'rest') {
    event.path = path;
    event.requestContext.path = `/prod${path}`;
  } else if (format === 'http' || format === 'url') {
    event.rawPath = path;
    event.requestContext.http.path = path;
  } else event.path = path;
  return event;
}

const ALLOWED = new Set([200, 301, 304, 400, 403, 404, 405, 413, 414, 431]);

describe('bad input', () => {
  let root: string;
  let h: Harness;

  beforeAll(() => {
    root = makeTree({
      'cgi-bin/env.sh': PRINTENV_SH,
      'cgi-bin/ok.sh': `#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nok\\n'\n`,
      'cgi-bin/dir/index.cgi': `#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nindex\\n'\n`,
      'htdocs/index.html': { content: '<p>static</p>', mode: 0o644 },
    });
    h = harness({ CGI_ROOT: `${root}/cgi-bin`, CGI_DOCUMENT_ROOT: `${root}/htdocs`, CGI_TIMEOUT_MS: '5000' });
  });
  afterAll(() => cleanup(root));
  beforeEach(() => h.clearLogs());

  /** Invokes, failing the test on a throw or on no answer within 15 s. */
  async function safeInvoke(event: Event, hh: Harness = h): Promise<Answer> {
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`handler hung on ${JSON.stringify(event).slice(0, 300)}`)), 15_000);
    });
    try {
      const result = await Promise.race([hh.invoke(event), hang]);
      return answerOf(result);
    } finally {
      clearTimeout(timer);
    }
  }

  function expectValid(res: Answer, what: string, method: string): void {
    if (!ALLOWED.has(res.status)) throw new Error(`status ${res.status} for ${what}`);
    expect(typeof res.raw.body).toBe('string');
    expect(typeof res.raw.isBase64Encoded).toBe('boolean');
    // A malformed HEAD event's 400 is checked on its own below ('a malformed HEAD request...').
    if (method.toUpperCase() === 'HEAD') {
      if (res.raw.body !== '' && res.status !== 400) throw new Error(`HEAD answered with a body for ${what}`);
    } else if (res.status >= 400) expectErrorPage(res, res.status, [root]);
  }

  const latin1 = (rand: () => number, n: number) => randomBytes(rand, n).toString('latin1');
  /** Random UTF-16 code units, lone surrogates included. */
  const units = (rand: () => number, n: number) =>
    String.fromCharCode(...Array.from({ length: n }, () => Math.floor(rand() * 0x10000)));
  const pct = (b: Buffer) => [...b].map((x) => '%' + x.toString(16).padStart(2, '0')).join('');

  function randomPath(rand: () => number): string {
    const n = 1 + Math.floor(rand() * 40);
    switch (Math.floor(rand() * 7)) {
      case 0: return '/cgi-bin/' + latin1(rand, n);
      case 1: return '/cgi-bin/env.sh/' + latin1(rand, n);
      case 2: return '/' + pct(randomBytes(rand, n));
      case 3: return '/cgi-bin/' + pct(randomBytes(rand, n));
      case 4: return units(rand, n);
      case 5: return '/cgi-bin/ok.sh/' + units(rand, n);
      default: return '/cgi-bin/env.sh/' + pct(randomBytes(rand, n)) + '/' + latin1(rand, 3);
    }
  }

  function randomHeaders(rand: () => number): Record<string, string> {
    const out: Record<string, string> = {};
    const n = Math.floor(rand() * 8);
    for (let i = 0; i < n; i++) {
      const name = rand() < 0.5 ? latin1(rand, 1 + Math.floor(rand() * 12)) : `x-r${i}`;
      out[name] = rand() < 0.5 ? latin1(rand, Math.floor(rand() * 60)) : units(rand, Math.floor(rand() * 30));
    }
    return out;
  }

  const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'PROPFIND', 'get'];

  it.each(FORMATS)('random paths, headers, queries and bodies never break the handler (%s)', async (format) => {
    const rand = prng(0xc61 + FORMATS.indexOf(format));
    const seen = new Map<number, number>();
    for (let i = 0; i < 120; i++) {
      const query = [() => '', () => latin1(rand, 30), () => pct(randomBytes(rand, 20)), () => `a=${units(rand, 10)}&b`][Math.floor(rand() * 4)]();
      const bodyKind = Math.floor(rand() * 3);
      const body = bodyKind === 0 ? undefined : bodyKind === 1 ? latin1(rand, 200) : randomBytes(rand, 300);
      const method = METHODS[Math.floor(rand() * METHODS.length)];
      const path = randomPath(rand);
      const headers = randomHeaders(rand);
      // The builders decode what they are given; the raw path goes in afterwards as sent.
      const event = withRawPath(format, build(format, { method, path: '/', query, headers, body }), path);
      const what = `${format} #${i} ${JSON.stringify({ method, path })}`;
      const res = await safeInvoke(event);
      expectValid(res, what, method);
      seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
    }
    // The sample reaches the scripts as well as the refusals.
    expect(seen.get(200) ?? 0).toBeGreaterThan(0);
    expect([...seen.keys()].filter((s) => s >= 400).length).toBeGreaterThan(0);
  });

  it('random bodies, raw and base64 (valid and not), reach the script intact or get 400', async () => {
    const rand = prng(99);
    for (let i = 0; i < 40; i++) {
      const bytes = randomBytes(rand, Math.floor(rand() * 2000));
      for (const format of FORMATS) {
        const event = build(format, { method: 'POST', path: '/cgi-bin/env.sh', body: bytes });
        const res = await safeInvoke(event);
        expect(res.status).toBe(200);
        expect(parseEnv0(res.body).CONTENT_LENGTH).toBe(bytes.length === 0 ? undefined : String(bytes.length));
        // A broken base64 body is a malformed event.
        const broken = build(format, { method: 'POST', path: '/cgi-bin/env.sh', body: bytes });
        broken.body = `${broken.body}!*`;
        broken.isBase64Encoded = true;
        expectErrorPage(await safeInvoke(broken), 400);
      }
    }
  });

  it('a non-BMP character (emoji) in an HTTP API path is routed like any other', async () => {
    for (const ev of [
      httpApiEvent({ path: '/cgi-bin/env.sh/%F0%9F%98%80' }),
      httpApiEvent({ path: '/cgi-bin/env.sh/%F0%9F%98%80' }, { stage: 'dev' }),
      restEvent({ path: '/cgi-bin/env.sh/\u{1F600}' }),
      functionUrlEvent({ path: '/cgi-bin/env.sh/%F0%9F%98%80' }),
    ]) {
      const res = await safeInvoke(ev);
      expect(res.status).toBe(200);
      expect(parseEnv0(res.body).PATH_INFO).toBe('/\u{1F600}');
    }
    const missing = await safeInvoke(httpApiEvent({ path: '/cgi-bin/%F0%9F%98%80.sh' }));
    expectErrorPage(missing, 404);
  });

  describe('sizes', () => {
    it('3000 small headers are accepted and all passed to the script', async () => {
      const headers: Record<string, string> = {};
      for (let i = 0; i < 3000; i++) headers[`x-h-${i}`] = `v${i}`;
      for (const format of ['rest', 'http', 'alb-multi'] as Format[]) {
        const res = await safeInvoke(build(format, { path: '/cgi-bin/env.sh', headers }));
        expect(res.status).toBe(200);
        const env = parseEnv0(res.body);
        const passed = Object.keys(env).filter((k) => k.startsWith('HTTP_X_H_'));
        expect(passed).toHaveLength(3000);
        expect(env.HTTP_X_H_0).toBe('v0');
        expect(env.HTTP_X_H_2999).toBe('v2999');
      }
    });

    it('so many headers that they exceed the limit: 431', async () => {
      const headers: Record<string, string> = {};
      for (let i = 0; i < 5000; i++) headers[`x-header-number-${i}`] = `value-${i}`;
      for (const format of FORMATS) {
        expectErrorPage(await safeInvoke(build(format, { path: '/cgi-bin/env.sh', headers })), 431);
      }
    });

    it('a 200 KB header value: 431', async () => {
      for (const format of FORMATS) {
        const res = await safeInvoke(build(format, { path: '/cgi-bin/env.sh', headers: { 'x-huge': 'h'.repeat(200 * 1024) } }));
        expectErrorPage(res, 431, ['hhhhhhhh']);
      }
    });

    it('a 200 KB query: 414', async () => {
      for (const format of FORMATS) {
        const res = await safeInvoke(build(format, { path: '/cgi-bin/env.sh', query: 'q=' + 'a'.repeat(200 * 1024) }));
        expectErrorPage(res, 414, ['aaaaaaaa']);
      }
    });

    it('a body over the limit: 413, logged', async () => {
      const h2 = harness({ CGI_ROOT: `${root}/cgi-bin`, CGI_STATIC: 'off', CGI_MAX_BODY_BYTES: '4096' });
      for (const format of FORMATS) {
        h2.clearLogs();
        const res = await safeInvoke(build(format, { method: 'POST', path: '/cgi-bin/env.sh', body: Buffer.alloc(5000, 7) }), h2);
        expectErrorPage(res, 413);
        expect(jsonLines(h2.err).map((l) => l.status)).toEqual([413]);
      }
    });

    it('a 7 MB body against the default limit: 413', async () => {
      const res = await safeInvoke(httpApiEvent({ method: 'POST', path: '/cgi-bin/env.sh', body: Buffer.alloc(7 * 1024 * 1024, 1) }));
      expectErrorPage(res, 413);
    });
  });

  describe('malformed requests', () => {
    it('a NUL in the query: 400', async () => {
      const v2 = httpApiEvent({ path: '/cgi-bin/env.sh' });
      v2.rawQueryString = 'a=1\0b=2';
      expectErrorPage(await safeInvoke(v2), 400);
      const url = functionUrlEvent({ path: '/cgi-bin/env.sh' });
      url.rawQueryString = '\0';
      expectErrorPage(await safeInvoke(url), 400);
      for (const multi of [false, true]) {
        const alb = albEvent({ path: '/cgi-bin/env.sh', query: 'a=x\0y' }, { multi });
        expectErrorPage(await safeInvoke(alb), 400);
      }
    });

    it.each(['GE T', 'GET\r\n', '', 'GET/', 'G\0T', 'GET POST', '(GET)'])('invalid method %j: 400 in every format', async (method) => {
      for (const format of FORMATS) {
        const event = build(format, { path: '/cgi-bin/ok.sh' });
        if (format === 'http' || format === 'url') event.requestContext.http.method = method;
        else event.httpMethod = method;
        expectErrorPage(await safeInvoke(event), 400);
      }
    });

    it('a method that is not a string: 400', async () => {
      for (const method of [42, null, ['GET'], { GET: 1 }]) {
        const v2 = httpApiEvent({ path: '/cgi-bin/ok.sh' });
        v2.requestContext.http.method = method;
        expectErrorPage(await safeInvoke(v2), 400);
        const v1 = restEvent({ path: '/cgi-bin/ok.sh' });
        v1.httpMethod = method;
        const res = await safeInvoke(v1).catch((e: Error) => e);
        // Without a string httpMethod a v1 event is not an HTTP event at all: a clear invocation error is fine.
        if (res instanceof Error) expect(res.message).toMatch(/lambda-cgi handles/);
        else expectErrorPage(res, 400);
      }
    });

    it('a path that is missing, not a string, or relative: 400', async () => {
      for (const path of [undefined, 5, 'cgi-bin/ok.sh', {}, null]) {
        for (const format of FORMATS) {
          const event = build(format, { path: '/cgi-bin/ok.sh' });
          if (format === 'http' || format === 'url') {
            event.rawPath = path;
            event.requestContext.http.path = path;
          } else event.path = path;
          expectErrorPage(await safeInvoke(event), 400);
        }
      }
    });

    it('non-string header values (numbers, null, arrays, objects) do not crash', async () => {
      const junk = { 'x-num': 5, 'x-null': null, 'x-arr': ['a', 1], 'x-obj': { a: 1 }, 'x-bool': true, 'x-undef': undefined, 'x-ok': 'fine' };
      const v2 = httpApiEvent({ path: '/cgi-bin/env.sh' });
      v2.headers = { ...v2.headers, ...junk };
      v2.cookies = [null, 5, 'a=b', { c: 1 }];
      const v1 = restEvent({ path: '/cgi-bin/env.sh' });
      v1.headers = { ...junk };
      v1.multiValueHeaders = {
        'x-num': [5], 'x-null': [null], 'x-arr': [['nested']], 'x-obj': [{ a: 1 }], 'x-single': 'not-a-list', 'x-none': null, 'x-ok': ['fine'],
      };
      v1.multiValueQueryStringParameters = { a: [1, null, 'x'], b: null, c: 'plain' };
      const alb = albEvent({ path: '/cgi-bin/env.sh' }, { multi: false });
      alb.headers = { ...alb.headers, ...junk };
      alb.queryStringParameters = { a: 5, b: null, c: ['x'] };
      const albMulti = albEvent({ path: '/cgi-bin/env.sh' }, { multi: true });
      albMulti.multiValueHeaders = { ...albMulti.multiValueHeaders, 'x-null': null, 'x-num': [5, null], 'x-ok': ['fine'] };
      for (const event of [v2, v1, alb, albMulti]) {
        const res = await safeInvoke(event);
        expect(res.status).toBe(200);
        const env = parseEnv0(res.body);
        expect(env.HTTP_X_OK).toBe('fine');
        expect(env.HTTP_X_NULL).toBeUndefined();
        expect(env.HTTP_X_OBJ).toBeUndefined();
      }
      expect(parseEnv0((await safeInvoke(v2)).body).HTTP_COOKIE).toBe('a=b');
    });

    it('header and query maps that are not objects do not crash', async () => {
      for (const value of [null, 'str', 7, [], [1, 2], true]) {
        for (const format of FORMATS) {
          const event = build(format, { path: '/cgi-bin/ok.sh' });
          event.headers = value;
          event.multiValueHeaders = value;
          event.queryStringParameters = value;
          event.multiValueQueryStringParameters = value;
          if (format === 'http' || format === 'url') {
            event.cookies = value;
            event.rawQueryString = value;
          }
          const res = await safeInvoke(event);
          expect(res.status).toBe(200);
          expect(res.body.toString()).toBe('ok\n');
        }
      }
    });

    it('a malformed HEAD request gets its 400 without a body', async () => {
      for (const format of FORMATS) {
        const event = build(format, { method: 'HEAD', path: '/cgi-bin/ok.sh' });
        event.body = 'not base64 !';
        event.isBase64Encoded = true;
        const res = await safeInvoke(event);
        expect(res.status).toBe(400);
        expect(res.raw.body).toBe('');
        expect(res.headers['content-type']?.[0]).toMatch(/^text\/html/);
      }
    });

    it('a body that is not a string: 400', async () => {
      for (const body of [42, { a: 1 }, ['x'], true]) {
        for (const format of FORMATS) {
          const event = build(format, { method: 'POST', path: '/cgi-bin/env.sh' });
          event.body = body;
          expectErrorPage(await safeInvoke(event), 400);
        }
      }
    });

    it('requestContext fields of the wrong type do not crash', async () => {
      const v2 = httpApiEvent({ path: '/cgi-bin/env.sh' });
      v2.requestContext.stage = 5;
      v2.requestContext.domainName = null;
      v2.requestContext.http.sourceIp = ['1.2.3.4'];
      v2.requestContext.http.protocol = {};
      v2.requestContext.authorizer = { jwt: { claims: 'nope' }, lambda: 7 };
      const v1 = restEvent({ path: '/cgi-bin/env.sh' });
      v1.requestContext.stage = null;
      v1.requestContext.path = 17;
      v1.requestContext.identity = 'nobody';
      v1.requestContext.authorizer = { claims: [1], principalId: 5 };
      for (const event of [v2, v1]) {
        const res = await safeInvoke(event);
        expect(res.status).toBe(200);
        const env = parseEnv0(res.body);
        expect(env.SCRIPT_NAME).toBe('/cgi-bin/env.sh');
        expect(env.REMOTE_ADDR).toBe('127.0.0.1');
      }
    });
  });
});
