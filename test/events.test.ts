/**
 * Event sources (issue 2, section 2): each front door's event is recognised by
 * its shape, read into one request and answered in the same shape. Every test
 * runs real scripts through the real handler.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { detectEventFormat, describeEvent, isWarmup } from '../handler/events';
import { rebuildQuery } from '../handler/events/shared';
import {
  albEvent, answerOf, functionUrlEvent, httpApiEvent, restEvent, type Answer, type ClientRequest, type Event,
} from './support/events';
import { cleanup, harness, makeTree, parseEnv0, PRINTENV_SH, type Harness } from './support/site';

const COOKIES_SH = `#!/bin/sh
printf 'Content-Type: text/plain\\n'
printf 'Set-Cookie: a=1; Path=/\\n'
printf 'Set-Cookie: b=2; HttpOnly\\n'
printf 'X-Multi: one\\n'
printf 'X-Multi: two\\n'
printf '\\n'
printf 'hello\\n'
`;

const NOT_FOUND_SH = `#!/bin/sh
printf 'Status: 404 Not Found\\nContent-Type: text/plain\\nSet-Cookie: gone=1\\n\\nnothing here\\n'
`;

/** Echoes its stdin back byte for byte, with the CONTENT_LENGTH it was given. */
const ECHO_SH = `#!/bin/sh
printf 'Content-Type: application/octet-stream\\nX-Content-Length: %s\\n\\n' "$CONTENT_LENGTH"
exec cat
`;

/** Leaves a marker file behind: proof that a process ran. */
const MARK_SH = `#!/bin/sh
echo ran >> "$MARK"
printf 'Content-Type: text/plain\\n\\nran\\n'
`;

let root: string;
let cgi: string;
let mark: string;

beforeAll(() => {
  root = makeTree({
    'cgi-bin/env.sh': PRINTENV_SH,
    'cgi-bin/a b.sh': PRINTENV_SH,
    'cgi-bin/café.sh': PRINTENV_SH,
    'cgi-bin/index.cgi': PRINTENV_SH,
    'cgi-bin/cookies.sh': COOKIES_SH,
    'cgi-bin/notfound.sh': NOT_FOUND_SH,
    'cgi-bin/echo.sh': ECHO_SH,
    'cgi-bin/mark.sh': MARK_SH,
    'site/index.cgi': PRINTENV_SH,
    'site/env.sh': PRINTENV_SH,
  });
  cgi = join(root, 'cgi-bin');
  mark = join(root, 'marker');
});
afterAll(() => cleanup(root));
beforeEach(() => rmSync(mark, { force: true }));

function site(extra: Record<string, string> = {}): Harness {
  return harness({ CGI_ROOT: cgi, CGI_ENV_MARK: mark, ...extra });
}

async function call(h: Harness, event: unknown): Promise<Answer> {
  return answerOf(await h.invoke(event as Event));
}

/** The environment the script really got; the request must have succeeded. */
async function envOf(h: Harness, event: unknown): Promise<Record<string, string>> {
  const res = await call(h, event);
  expect(res.status).toBe(200);
  return parseEnv0(res.body);
}

function decodePath(path: string): string {
  return path.replace(/(%[0-9A-Fa-f]{2})+/g, (m) => decodeURIComponent(m));
}

/**
 * HTTP API with payload format 1.0: the REST shape with `version: "1.0"`, the
 * path decoded and carrying a named stage, no `resource` stage path.
 */
function httpApiV1Event(req: ClientRequest, opts: { stage?: string; domainName?: string } = {}): Event {
  const stage = opts.stage ?? '$default';
  const e = restEvent(req, { stage });
  const path = (stage === '$default' ? '' : `/${stage}`) + decodePath(req.path);
  e.version = '1.0';
  e.resource = '$default';
  e.path = path;
  e.requestContext.path = path;
  e.requestContext.resourcePath = '$default';
  e.requestContext.apiId = 'abc123';
  if (opts.domainName) e.requestContext.domainName = opts.domainName;
  return e;
}

/** A REST API event as serverless-offline 14 builds it (see its LambdaProxyIntegrationEvent.js). */
function offlineRestEvent(req: ClientRequest, stage = 'dev'): Event {
  const e = restEvent(req, { stage });
  e.path = req.path === '/' ? '' : req.path;
  e.requestContext.path = e.path;
  e.requestContext.domainName = 'offlineContext_domainName';
  e.requestContext.resourcePath = `/${stage}/{proxy*}`;
  e.requestContext.authorizer = { principalId: 'offlineContext_authorizer_principalId' };
  e.requestContext.identity = {
    ...e.requestContext.identity,
    user: 'offlineContext_user',
    userArn: 'offlineContext_userArn',
    caller: 'offlineContext_caller',
  };
  return e;
}

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

describe('event detection', () => {
  it('tells every front door apart by shape', () => {
    const req = { path: '/cgi-bin/env.sh' };
    expect(detectEventFormat(restEvent(req))?.name).toBe('API Gateway payload 1.0');
    expect(detectEventFormat(httpApiV1Event(req))?.name).toBe('API Gateway payload 1.0');
    expect(detectEventFormat(httpApiEvent(req))?.name).toBe('payload 2.0 (HTTP API / Function URL)');
    expect(detectEventFormat(functionUrlEvent(req))?.name).toBe('payload 2.0 (HTTP API / Function URL)');
    expect(detectEventFormat(albEvent(req, { multi: true }))?.name).toBe('ALB');
    expect(detectEventFormat(albEvent(req, { multi: false }))?.name).toBe('ALB');
    expect(detectEventFormat({ Records: [{ eventSource: 'aws:sqs' }] })).toBeUndefined();
    expect(detectEventFormat(null)).toBeUndefined();
  });

  it('a bare REST event (the API Gateway console test: every map null) is still served', async () => {
    const e = restEvent({ path: '/cgi-bin/env.sh/x' });
    Object.assign(e, { headers: null, multiValueHeaders: null, queryStringParameters: null, multiValueQueryStringParameters: null, body: null });
    const env = await envOf(site(), e);
    expect(env.SCRIPT_NAME).toBe('/prod/cgi-bin/env.sh');
    expect(env.PATH_INFO).toBe('/x');
    expect(env.QUERY_STRING).toBe('');
    expect(env.CONTENT_LENGTH).toBeUndefined();
  });

  it('reads HTTP API payload 1.0 (decoded path, named stage) as an HTTP API request', async () => {
    const h = site();
    const env = await envOf(h, httpApiV1Event({ path: '/cgi-bin/env.sh/x%20y', query: 'q=1' }, { stage: 'dev' }));
    expect(env.SCRIPT_NAME).toBe('/dev/cgi-bin/env.sh');
    expect(env.PATH_INFO).toBe('/x y');
    expect(env.QUERY_STRING).toBe('q=1');
    expect(env.REQUEST_URI).toBe('/dev/cgi-bin/env.sh/x%20y?q=1');
  });
});

describe('responses in the shape of the request', () => {
  it('REST v1: statusCode, multiValueHeaders with both Set-Cookie, body, isBase64Encoded', async () => {
    const raw = await site().invoke(restEvent({ path: '/cgi-bin/cookies.sh' }));
    expect(raw.statusCode).toBe(200);
    expect(raw.multiValueHeaders['Set-Cookie']).toEqual(['a=1; Path=/', 'b=2; HttpOnly']);
    expect(raw.multiValueHeaders['X-Multi']).toEqual(['one', 'two']);
    expect(raw.multiValueHeaders['Content-Type']).toEqual(['text/plain']);
    expect(raw.body).toBe('hello\n');
    expect(raw.isBase64Encoded).toBe(false);
    expect(raw.cookies).toBeUndefined();
    expect(raw.statusDescription).toBeUndefined();
  });

  it('HTTP API payload 1.0 is answered in the v1 shape', async () => {
    const raw = await site().invoke(httpApiV1Event({ path: '/cgi-bin/cookies.sh' }));
    expect(raw.statusCode).toBe(200);
    expect(raw.multiValueHeaders['Set-Cookie']).toEqual(['a=1; Path=/', 'b=2; HttpOnly']);
    expect(raw.body).toBe('hello\n');
    expect(raw.isBase64Encoded).toBe(false);
  });

  it('HTTP API v2: headers, cookies[] for every Set-Cookie, repeated headers comma-joined', async () => {
    const raw = await site().invoke(httpApiEvent({ path: '/cgi-bin/cookies.sh' }));
    expect(raw.statusCode).toBe(200);
    expect(raw.cookies).toEqual(['a=1; Path=/', 'b=2; HttpOnly']);
    expect(raw.headers).toEqual({ 'Content-Type': 'text/plain', 'X-Multi': 'one, two' });
    expect(raw.multiValueHeaders).toBeUndefined();
    expect(raw.body).toBe('hello\n');
    expect(raw.isBase64Encoded).toBe(false);
  });

  it('Function URL: same payload 2.0 answer', async () => {
    const raw = await site().invoke(functionUrlEvent({ path: '/cgi-bin/cookies.sh' }));
    expect(raw.statusCode).toBe(200);
    expect(raw.cookies).toEqual(['a=1; Path=/', 'b=2; HttpOnly']);
    expect(raw.headers).toEqual({ 'Content-Type': 'text/plain', 'X-Multi': 'one, two' });
    expect(raw.body).toBe('hello\n');
  });

  it('ALB multi-value: statusDescription and multiValueHeaders', async () => {
    const raw = await site().invoke(albEvent({ path: '/cgi-bin/cookies.sh' }, { multi: true }));
    expect(raw.statusCode).toBe(200);
    expect(raw.statusDescription).toBe('200 OK');
    expect(raw.multiValueHeaders['Set-Cookie']).toEqual(['a=1; Path=/', 'b=2; HttpOnly']);
    expect(raw.multiValueHeaders['X-Multi']).toEqual(['one', 'two']);
    expect(raw.headers).toBeUndefined();
    expect(raw.body).toBe('hello\n');
    expect(raw.isBase64Encoded).toBe(false);
  });

  it('ALB single-value: headers only, one Set-Cookie (the last), and a warning in the log', async () => {
    const h = site();
    const raw = await h.invoke(albEvent({ path: '/cgi-bin/cookies.sh' }, { multi: false }));
    expect(raw.statusCode).toBe(200);
    expect(raw.statusDescription).toBe('200 OK');
    expect(raw.multiValueHeaders).toBeUndefined();
    expect(raw.headers).toEqual({ 'Content-Type': 'text/plain', 'X-Multi': 'one, two', 'Set-Cookie': 'b=2; HttpOnly' });
    const warnings = h.err.filter((l) => l.includes('"level":"warn"') && l.includes('Set-Cookie'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('"requestId":"req-1"');
  });

  it('ALB: a script status and a gateway 404 both carry statusDescription "404 Not Found"', async () => {
    const h = site();
    const fromScript = await h.invoke(albEvent({ path: '/cgi-bin/notfound.sh' }, { multi: true }));
    expect(fromScript.statusCode).toBe(404);
    expect(fromScript.statusDescription).toBe('404 Not Found');
    expect(fromScript.multiValueHeaders['Set-Cookie']).toEqual(['gone=1']);
    expect(fromScript.body).toBe('nothing here\n');

    const missing = await h.invoke(albEvent({ path: '/cgi-bin/no-such.sh' }, { multi: false }));
    expect(missing.statusCode).toBe(404);
    expect(missing.statusDescription).toBe('404 Not Found');
    expect(missing.headers['Content-Type']).toBe('text/html; charset=utf-8');
    expect(missing.multiValueHeaders).toBeUndefined();
  });
});

describe('warm-up pings', () => {
  const pings: Array<[string, unknown]> = [
    ['{warmer: true}', { warmer: true, concurrency: 1 }],
    ['serverless-plugin-warmup', { source: 'serverless-plugin-warmup' }],
    [
      'EventBridge scheduled event',
      {
        version: '0', id: 'e1', 'detail-type': 'Scheduled Event', source: 'aws.events', account: '123456789012',
        time: '2026-11-25T12:00:00Z', region: 'us-east-1', resources: ['arn:aws:events:us-east-1:123456789012:rule/warm'], detail: {},
      },
    ],
  ];

  it.each(pings)('%s returns at once and starts no process', async (_name, ping) => {
    // The whole URL space runs the marker script: any process would leave the file behind.
    const h = harness({ CGI_ROOT: join(cgi, 'mark.sh'), CGI_PREFIX: '/', CGI_ENV_MARK: mark });
    expect(isWarmup(ping)).toBe(true);
    const started = Date.now();
    const result = await h.invoke(ping as Event);
    expect(Date.now() - started).toBeLessThan(200);
    expect(result).toEqual({ warmed: true });
    expect(result.statusCode).toBeUndefined();
    await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(mark)).toBe(false);
    expect(h.out).toEqual([]);
    expect(h.err).toEqual([]);
  });

  it('the same marker script does leave its marker when a real request runs it', async () => {
    const h = harness({ CGI_ROOT: join(cgi, 'mark.sh'), CGI_PREFIX: '/', CGI_ENV_MARK: mark });
    const res = await call(h, httpApiEvent({ path: '/anything' }));
    expect(res.status).toBe(200);
    expect(existsSync(mark)).toBe(true);
  });
});

describe('events that are not HTTP requests fail the invocation', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['SQS', { Records: [{ messageId: 'm1', eventSource: 'aws:sqs', body: 'hi', eventSourceARN: 'arn:aws:sqs:us-east-1:1:q' }] }, /"aws:sqs" event/],
    ['S3', { Records: [{ eventVersion: '2.1', eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' } } }] }, /"aws:s3" event/],
    ['EventBridge (not scheduled)', { version: '0', source: 'aws.ec2', 'detail-type': 'EC2 Instance State-change Notification', detail: { state: 'running' } }, /"aws\.ec2" event/],
    ['null', null, /null value/],
    ['a string', 'hello', /string value/],
    ['an array', [1, 2, 3], /array of 3 items/],
  ];

  it.each(cases)('%s: throws an Error naming what was seen, runs nothing', async (_name, event, named) => {
    const h = harness({ CGI_ROOT: join(cgi, 'mark.sh'), CGI_PREFIX: '/', CGI_ENV_MARK: mark });
    let thrown: unknown;
    try {
      await h.invoke(event as Event);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as Error).message).toMatch(named);
    expect((thrown as Error).message).toMatch(/API Gateway, ALB and Function URL/);
    expect(existsSync(mark)).toBe(false);
    expect(h.out).toEqual([]);
  });

  it('describeEvent names record sources, sources and keys', () => {
    expect(describeEvent({ Records: [{ eventSource: 'aws:sqs' }] })).toBe('a "aws:sqs" event with keys [Records]');
    expect(describeEvent({ source: 'my.app', detail: {} })).toBe('a "my.app" event with keys [source, detail]');
    expect(describeEvent(42)).toBe('a number value');
  });
});

describe('malformed HTTP events get a 400 in their own format and a log line', () => {
  function expect400(h: Harness, raw: Event, shape: 'v1' | 'v2' | 'alb-multi' | 'alb-single') {
    expect(raw.statusCode).toBe(400);
    expect(String(raw.body)).toContain('<h1>Bad Request</h1>');
    expect(raw.isBase64Encoded).toBe(false);
    if (shape === 'v1' || shape === 'alb-multi') {
      expect(raw.multiValueHeaders['Content-Type']).toEqual(['text/html; charset=utf-8']);
      expect(raw.headers).toBeUndefined();
    } else {
      expect(raw.headers['Content-Type']).toBe('text/html; charset=utf-8');
      expect(raw.multiValueHeaders).toBeUndefined();
    }
    if (shape.startsWith('alb')) expect(raw.statusDescription).toBe('400 Bad Request');
    const lines = h.err.filter((l) => l.includes('malformed') && l.includes('"requestId":"req-1"'));
    expect(lines).toHaveLength(1);
    expect(existsSync(mark)).toBe(false);
  }

  it('v2 without a method', async () => {
    const h = site();
    const e = httpApiEvent({ path: '/cgi-bin/mark.sh' });
    delete e.requestContext.http.method;
    expect400(h, await h.invoke(e), 'v2');
  });

  it('v2 without requestContext.http', async () => {
    const h = site();
    const e = httpApiEvent({ path: '/cgi-bin/mark.sh' });
    delete e.requestContext.http;
    expect400(h, await h.invoke(e), 'v2');
    expect(h.err.join('')).toContain('requestContext.http is missing');
  });

  it('v2 with a rawPath not starting with "/"', async () => {
    const h = site();
    const e = httpApiEvent({ path: '/cgi-bin/mark.sh' });
    e.rawPath = 'cgi-bin/mark.sh';
    e.requestContext.http.path = 'cgi-bin/mark.sh';
    expect400(h, await h.invoke(e), 'v2');
  });

  it('v2 with an invalid base64 body', async () => {
    const h = site();
    const e = httpApiEvent({ method: 'POST', path: '/cgi-bin/mark.sh' });
    e.body = 'not*base64!';
    e.isBase64Encoded = true;
    expect400(h, await h.invoke(e), 'v2');
    expect(h.err.join('')).toContain('body is not valid base64');
  });

  it('REST with a path not starting with "/"', async () => {
    const h = site();
    const e = restEvent({ path: '/cgi-bin/mark.sh' });
    e.path = 'cgi-bin/mark.sh';
    expect400(h, await h.invoke(e), 'v1');
  });

  it('REST with an invalid base64 body', async () => {
    const h = site();
    const e = restEvent({ method: 'POST', path: '/cgi-bin/mark.sh' });
    e.body = '%%%%';
    e.isBase64Encoded = true;
    expect400(h, await h.invoke(e), 'v1');
  });

  it('REST without httpMethod (still clearly an API Gateway request) gets a 400, not an invocation error', async () => {
    const h = site();
    const e = restEvent({ path: '/cgi-bin/mark.sh' });
    delete e.httpMethod;
    expect400(h, await h.invoke(e), 'v1');
  });

  it('REST with an invalid method token', async () => {
    const h = site();
    const e = restEvent({ path: '/cgi-bin/mark.sh' });
    e.httpMethod = 'GET /evil';
    expect400(h, await h.invoke(e), 'v1');
  });

  it('ALB without a method, multi-value mode', async () => {
    const h = site();
    const e = albEvent({ path: '/cgi-bin/mark.sh' }, { multi: true });
    delete e.httpMethod;
    expect400(h, await h.invoke(e), 'alb-multi');
  });

  it('ALB with an invalid base64 body, single-value mode', async () => {
    const h = site();
    const e = albEvent({ method: 'POST', path: '/cgi-bin/mark.sh' }, { multi: false });
    e.body = 'a';
    e.isBase64Encoded = true;
    expect400(h, await h.invoke(e), 'alb-single');
  });
});

describe('query strings', () => {
  const RAW = 'a=1&a=2&b=x+y&c=%2B&flag&semi=a;b=c';

  it('HTTP API v2: rawQueryString is QUERY_STRING, byte for byte', async () => {
    const env = await envOf(site(), httpApiEvent({ path: '/cgi-bin/env.sh', query: RAW }));
    expect(env.QUERY_STRING).toBe(RAW);
    expect(env.REQUEST_URI).toBe(`/cgi-bin/env.sh?${RAW}`);
  });

  it('Function URL: rawQueryString passed raw, odd escapes and all', async () => {
    const q = 'x=%7e&y=%E9t%C3%A9&z=a%26b&&w=';
    const env = await envOf(site(), functionUrlEvent({ path: '/cgi-bin/env.sh', query: q }));
    expect(env.QUERY_STRING).toBe(q);
  });

  it('REST v1: rebuilt from the decoded maps (space to "+", "+" to %2B, "/" kept, an empty value as "key=")', async () => {
    const env = await envOf(site(), restEvent({ path: '/cgi-bin/env.sh', query: 'a=1&a=2&b=x+y&c=%2B&flag&p=/x/y&e=caf%C3%A9&amp=a%26b' }));
    expect(env.QUERY_STRING).toBe('a=1&a=2&b=x+y&c=%2B&flag=&p=/x/y&e=caf%C3%A9&amp=a%26b');
  });

  it('REST v1: an empty form field stays a form field (`?words=`), not an ISINDEX search', async () => {
    const h = site();
    for (const query of ['words=', 'words', 'item%5B0%5D=', 'pr%C3%A9nom=']) {
      const env = await envOf(h, restEvent({ path: '/cgi-bin/env.sh', query }));
      expect(env.QUERY_STRING).toBe(query.endsWith('=') ? query : `${query}=`);
    }
  });

  it('serverless-offline HTTP API: its `perl+cgi=` (URLSearchParams) is an ISINDEX search again; `words=` stays', async () => {
    const h = site({ IS_OFFLINE: 'true' });
    const offline = (query: string) => {
      const e = httpApiEvent({ path: '/cgi-bin/env.sh', query });
      e.requestContext.domainName = 'offlineContext_domainName';
      return e;
    };
    expect((await envOf(h, offline('perl+cgi='))).QUERY_STRING).toBe('perl+cgi');
    expect((await envOf(h, offline('words='))).QUERY_STRING).toBe('words=');
    expect((await envOf(h, offline('a+b=&c='))).QUERY_STRING).toBe('a+b=&c=');
    // On AWS rawQueryString is what the client sent, untouched.
    expect((await envOf(h, httpApiEvent({ path: '/cgi-bin/env.sh', query: 'perl+cgi=' }))).QUERY_STRING).toBe('perl+cgi=');
  });

  it('REST v1: only a lone key no form field would carry is rebuilt bare (ISINDEX)', async () => {
    const h = site();
    expect((await envOf(h, restEvent({ path: '/cgi-bin/env.sh', query: 'perl+cgi' }))).QUERY_STRING).toBe('perl+cgi');
    expect((await envOf(h, restEvent({ path: '/cgi-bin/env.sh', query: 'c%2B%2B' }))).QUERY_STRING).toBe('c%2B%2B');
    expect((await envOf(h, restEvent({ path: '/cgi-bin/env.sh', query: 'perl+cgi&x' }))).QUERY_STRING).toBe('perl+cgi=&x=');
  });

  it('REST v1: a ";" inside a value stays literal, as CGI.pm and gitweb use it as a separator', async () => {
    // API Gateway splits only on '&': `semi=a;b=c` arrives as semi -> "a;b=c".
    const env = await envOf(site(), restEvent({ path: '/cgi-bin/env.sh', query: 'semi=a;b=c' }));
    expect(env.QUERY_STRING).toBe('semi=a;b=c');
  });

  it('REST v1: an ISINDEX query stays one', async () => {
    const env = await envOf(site(), restEvent({ path: '/cgi-bin/env.sh', query: 'hello+world' }));
    expect(env.QUERY_STRING).toBe('hello+world');
  });

  it('HTTP API payload 1.0: rebuilt from its decoded maps as well', async () => {
    const env = await envOf(site(), httpApiV1Event({ path: '/cgi-bin/env.sh', query: 'b=x+y&c=%2B&flag' }));
    expect(env.QUERY_STRING).toBe('b=x+y&c=%2B&flag=');
  });

  it('REST v1 without any query: QUERY_STRING is empty, not absent', async () => {
    const env = await envOf(site(), restEvent({ path: '/cgi-bin/env.sh' }));
    expect(env.QUERY_STRING).toBe('');
  });

  it('ALB multi-value: values still percent-encoded go through unchanged', async () => {
    const q = 'q=a%20b&q=c%2Bd&x=%3B&plus=1+2&flag=';
    const env = await envOf(site(), albEvent({ path: '/cgi-bin/env.sh', query: q }, { multi: true }));
    expect(env.QUERY_STRING).toBe(q);
  });

  it('ALB single-value: values still percent-encoded go through unchanged', async () => {
    const q = 'q=a%20b&x=%2F%3F&flag=';
    const env = await envOf(site(), albEvent({ path: '/cgi-bin/env.sh', query: q }, { multi: false }));
    expect(env.QUERY_STRING).toBe(q);
  });

  it('rebuildQuery, directly', () => {
    expect(rebuildQuery({ 'a b': ['c+d', 'é'], k: [''] }, null, false)).toBe('a+b=c%2Bd&a+b=%C3%A9&k=');
    expect(rebuildQuery({ 'a b': [''] }, null, false)).toBe('a+b');
    expect(rebuildQuery(null, { 'a%20b': '' }, true)).toBe('a%20b');
    expect(rebuildQuery(null, { words: '' }, true)).toBe('words=');
    expect(rebuildQuery(null, { 'a=b': 'x&y' }, false)).toBe('a%3Db=x%26y');
    expect(rebuildQuery(null, { q: 'a%20b' }, true)).toBe('q=a%20b');
    expect(rebuildQuery(null, null, false)).toBe('');
  });
});

describe('request bodies', () => {
  const shapes: Array<[string, (r: ClientRequest) => Event]> = [
    ['REST', (r) => restEvent(r)],
    ['HTTP API v2', (r) => httpApiEvent(r)],
    ['Function URL', (r) => functionUrlEvent(r)],
    ['ALB multi', (r) => albEvent(r, { multi: true })],
    ['ALB single', (r) => albEvent(r, { multi: false })],
  ];

  it.each(shapes)('%s: a base64 body reaches stdin byte for byte', async (_name, make) => {
    const raw = await site().invoke(make({ method: 'POST', path: '/cgi-bin/echo.sh', body: ALL_BYTES, headers: { 'Content-Type': 'application/octet-stream' } }));
    const res = answerOf(raw);
    expect(res.status).toBe(200);
    expect(raw.isBase64Encoded).toBe(true);
    expect(res.headers['x-content-length']).toEqual(['256']);
    expect(res.body.equals(ALL_BYTES)).toBe(true);
  });

  it('a plain text body reaches stdin as UTF-8', async () => {
    const res = await call(site(), httpApiEvent({ method: 'POST', path: '/cgi-bin/echo.sh', body: 'héllo wörld' }));
    expect(res.status).toBe(200);
    expect(res.headers['x-content-length']).toEqual(['13']);
    expect(res.body.equals(Buffer.from('héllo wörld', 'utf8'))).toBe(true);
  });
});

describe('cookies', () => {
  it('HTTP API v2: cookies[] joined with "; " into HTTP_COOKIE', async () => {
    const e = httpApiEvent({ path: '/cgi-bin/env.sh' });
    e.cookies = ['a=1', 'b=two words', 'c=3'];
    const env = await envOf(site(), e);
    expect(env.HTTP_COOKIE).toBe('a=1; b=two words; c=3');
  });

  it('REST v1: repeated Cookie headers joined with "; "', async () => {
    const env = await envOf(site(), restEvent({ path: '/cgi-bin/env.sh', headers: { Cookie: ['a=1', 'b=2; c=3'] } }));
    expect(env.HTTP_COOKIE).toBe('a=1; b=2; c=3');
  });

  it('ALB multi-value: repeated cookie headers joined with "; "', async () => {
    const env = await envOf(site(), albEvent({ path: '/cgi-bin/env.sh', headers: { cookie: ['x=1', 'y=2'] } }, { multi: true }));
    expect(env.HTTP_COOKIE).toBe('x=1; y=2');
  });
});

describe('stage prefixes and base paths', () => {
  it('REST stage "/prod": in SCRIPT_NAME and REQUEST_URI, stripped for routing', async () => {
    const env = await envOf(site(), restEvent({ path: '/cgi-bin/env.sh/x', query: 'q=1' }, { stage: 'prod' }));
    expect(env.SCRIPT_NAME).toBe('/prod/cgi-bin/env.sh');
    expect(env.PATH_INFO).toBe('/x');
    expect(env.REQUEST_URI).toBe('/prod/cgi-bin/env.sh/x?q=1');
  });

  it('HTTP API named stage on the execute-api domain: kept for the browser, stripped for routing', async () => {
    const e = httpApiEvent({ path: '/cgi-bin/env.sh/x', query: 'q=1' }, { stage: 'dev' });
    expect(e.rawPath).toBe('/dev/cgi-bin/env.sh/x');
    const env = await envOf(site(), e);
    expect(env.SCRIPT_NAME).toBe('/dev/cgi-bin/env.sh');
    expect(env.PATH_INFO).toBe('/x');
    expect(env.REQUEST_URI).toBe('/dev/cgi-bin/env.sh/x?q=1');
  });

  it('HTTP API $default stage: no prefix', async () => {
    const env = await envOf(site(), httpApiEvent({ path: '/cgi-bin/env.sh/x', query: 'q=1' }));
    expect(env.SCRIPT_NAME).toBe('/cgi-bin/env.sh');
    expect(env.REQUEST_URI).toBe('/cgi-bin/env.sh/x?q=1');
  });

  it('HTTP API named stage on a custom domain: stripped for routing, not shown in SCRIPT_NAME', async () => {
    const e = httpApiEvent({ path: '/cgi-bin/env.sh/x', query: 'q=1', headers: { host: 'www.example.com' } }, { stage: 'dev', domainName: 'www.example.com' });
    const env = await envOf(site(), e);
    expect(env.SCRIPT_NAME).toBe('/cgi-bin/env.sh');
    expect(env.PATH_INFO).toBe('/x');
    expect(env.REQUEST_URI).toBe('/cgi-bin/env.sh/x?q=1');
  });

  it('HTTP API payload 1.0 named stage on a custom domain: stripped for routing, not shown in SCRIPT_NAME', async () => {
    const e = httpApiV1Event({ path: '/cgi-bin/env.sh/x', query: 'q=1' }, { stage: 'dev', domainName: 'www.example.com' });
    const env = await envOf(site(), e);
    expect(env.SCRIPT_NAME).toBe('/cgi-bin/env.sh');
    expect(env.REQUEST_URI).toBe('/cgi-bin/env.sh/x?q=1');
  });

  it('REST on a custom domain with the root mapping: no prefix', async () => {
    const e = restEvent({ path: '/cgi-bin/env.sh/x' }, { stage: 'prod' });
    e.requestContext.domainName = 'www.example.com';
    e.requestContext.path = '/cgi-bin/env.sh/x';
    const env = await envOf(site(), e);
    expect(env.SCRIPT_NAME).toBe('/cgi-bin/env.sh');
    expect(env.REQUEST_URI).toBe('/cgi-bin/env.sh/x');
  });

  it('CGI_BASE_PATH overrides the detected stage in SCRIPT_NAME and REQUEST_URI', async () => {
    const env = await envOf(site({ CGI_BASE_PATH: '/app' }), restEvent({ path: '/cgi-bin/env.sh/x', query: 'q=1' }, { stage: 'prod' }));
    expect(env.SCRIPT_NAME).toBe('/app/cgi-bin/env.sh');
    expect(env.PATH_INFO).toBe('/x');
    expect(env.REQUEST_URI).toBe('/app/cgi-bin/env.sh/x?q=1');
  });

  it('CGI_BASE_PATH: a base path mapping that REST leaves in `path` (custom domain "/shop") is stripped for routing', async () => {
    // API Gateway REST on a custom domain with base path mapping "shop" sends path "/shop/..." (aws-serverless-express#216).
    const e = restEvent({ path: '/shop/cgi-bin/env.sh/x', query: 'q=1' }, { stage: 'prod' });
    e.requestContext.domainName = 'www.example.com';
    e.requestContext.path = '/shop/cgi-bin/env.sh/x';
    const env = await envOf(site({ CGI_BASE_PATH: '/shop' }), e);
    expect(env.SCRIPT_NAME).toBe('/shop/cgi-bin/env.sh');
    expect(env.PATH_INFO).toBe('/x');
    expect(env.REQUEST_URI).toBe('/shop/cgi-bin/env.sh/x?q=1');
  });

  it('serverless-offline REST: the stage comes from resourcePath', async () => {
    const env = await envOf(site({ IS_OFFLINE: 'true' }), offlineRestEvent({ path: '/cgi-bin/env.sh/x', query: 'q=1' }));
    expect(env.SCRIPT_NAME).toBe('/dev/cgi-bin/env.sh');
    expect(env.PATH_INFO).toBe('/x');
    expect(env.REQUEST_URI).toBe('/dev/cgi-bin/env.sh/x?q=1');
  });

  it('serverless-offline REST: path "" is the root of the stage', async () => {
    const h = harness({ CGI_ROOT: join(root, 'site'), CGI_PREFIX: '/', IS_OFFLINE: 'true' });
    const e = offlineRestEvent({ path: '/' });
    expect(e.path).toBe('');
    const env = await envOf(h, e);
    expect(env.SCRIPT_NAME).toBe('/dev/index.cgi');
    expect(env.REQUEST_URI).toBe('/dev/');
  });

  it('serverless-offline REST: its placeholder principal is not an authenticated user', async () => {
    const env = await envOf(site({ IS_OFFLINE: 'true' }), offlineRestEvent({ path: '/cgi-bin/env.sh' }));
    expect(env.REMOTE_USER).toBeUndefined();
    expect(env.AUTH_TYPE).toBeUndefined();
  });
});

describe('paths as each front door encodes them', () => {
  it('HTTP API v2 hands over decoded paths (a space, é): they still route', async () => {
    const h = site();
    const spaced = httpApiEvent({ path: '/cgi-bin/a%20b.sh/x%20y' });
    expect(spaced.rawPath).toBe('/cgi-bin/a b.sh/x y');
    let env = await envOf(h, spaced);
    expect(env.SCRIPT_NAME).toBe('/cgi-bin/a b.sh');
    expect(env.PATH_INFO).toBe('/x y');

    const accented = httpApiEvent({ path: '/cgi-bin/caf%C3%A9.sh/%C3%A9t%C3%A9' });
    expect(accented.rawPath).toBe('/cgi-bin/café.sh/été');
    env = await envOf(h, accented);
    expect(env.SCRIPT_NAME).toBe('/cgi-bin/café.sh');
    expect(env.PATH_INFO).toBe('/été');
  });

  it('HTTP API v2: a decoded "%" in the path is taken literally', async () => {
    const env = await envOf(site(), httpApiEvent({ path: '/cgi-bin/env.sh/100%25' }));
    expect(env.PATH_INFO).toBe('/100%');
  });

  it('Function URL paths arrive encoded and are decoded once', async () => {
    const h = site();
    const e = functionUrlEvent({ path: '/cgi-bin/a%20b.sh/x%20y/%2541' });
    expect(e.rawPath).toBe('/cgi-bin/a%20b.sh/x%20y/%2541');
    const env = await envOf(h, e);
    expect(env.SCRIPT_NAME).toBe('/cgi-bin/a b.sh');
    expect(env.PATH_INFO).toBe('/x y/%41');
    expect(env.REQUEST_URI).toBe('/cgi-bin/a%20b.sh/x%20y/%2541');
  });

  it('REST paths arrive encoded and are decoded once', async () => {
    const env = await envOf(site(), restEvent({ path: '/cgi-bin/caf%C3%A9.sh/a%2Bb%20c' }));
    expect(env.SCRIPT_NAME).toBe('/prod/cgi-bin/café.sh');
    expect(env.PATH_INFO).toBe('/a+b c');
  });

  it('serverless-offline HTTP API events carry the encoded pathname: decoded once, as on AWS', async () => {
    const h = site({ IS_OFFLINE: 'true' });
    const path = '/cgi-bin/caf%C3%A9.sh/caf%C3%A9/a%20b|c';
    const aws = await envOf(h, httpApiEvent({ path }));
    // serverless-offline 14: rawPath is hapi's WHATWG pathname, `|` left raw (LambdaProxyIntegrationEventV2.js).
    const e = httpApiEvent({ path });
    e.rawPath = path;
    e.requestContext.http.path = path;
    e.requestContext.domainName = 'offlineContext_domainName';
    const local = await envOf(h, e);
    expect(local.PATH_INFO).toBe('/café/a b|c');
    for (const name of ['SCRIPT_NAME', 'PATH_INFO', 'REQUEST_URI']) expect(local[name]).toBe(aws[name]);
    expect(local.REQUEST_URI).toBe('/cgi-bin/caf%C3%A9.sh/caf%C3%A9/a%20b%7Cc');
  });
});

describe('the client address', () => {
  it('REST: requestContext.identity.sourceIp', async () => {
    const env = await envOf(site(), restEvent({ path: '/cgi-bin/env.sh', sourceIp: '198.51.100.23' }));
    expect(env.REMOTE_ADDR).toBe('198.51.100.23');
    expect(env.REMOTE_HOST).toBe('198.51.100.23');
  });

  it('HTTP API v2: requestContext.http.sourceIp', async () => {
    const env = await envOf(site(), httpApiEvent({ path: '/cgi-bin/env.sh', sourceIp: '2001:db8::7' }));
    expect(env.REMOTE_ADDR).toBe('2001:db8::7');
  });

  it('ALB: the address ALB appended to X-Forwarded-For (the last), not what the client claimed, both header modes', async () => {
    for (const multi of [true, false]) {
      // The client sent "X-Forwarded-For: 198.51.100.7, not-an-ip"; ALB appended the address it saw.
      const event = albEvent({ path: '/cgi-bin/env.sh', sourceIp: '198.51.100.7, not-an-ip, 203.0.113.50' }, { multi });
      const env = await envOf(site(), event);
      expect(env.REMOTE_ADDR).toBe('203.0.113.50');
      expect(env.REMOTE_HOST).toBe('203.0.113.50');
    }
  });
});

describe('the authenticated caller', () => {
  it('HTTP API v2 JWT authorizer: REMOTE_USER from the claims, AUTH_TYPE from the Authorization scheme', async () => {
    const e = httpApiEvent({ path: '/cgi-bin/env.sh', headers: { authorization: 'Bearer eyJ.x.y' } }, {
      authorizer: { jwt: { claims: { sub: '6b1f-uuid', 'cognito:username': 'alice', email: 'a@example.com' }, scopes: ['openid'] } },
    });
    const env = await envOf(site(), e);
    expect(env.REMOTE_USER).toBe('alice');
    expect(env.AUTH_TYPE).toBe('Bearer');
    expect(env.HTTP_AUTHORIZATION).toBeUndefined();
  });

  it('HTTP API v2 JWT authorizer with only a sub claim, no Authorization header', async () => {
    const e = httpApiEvent({ path: '/cgi-bin/env.sh' }, { authorizer: { jwt: { claims: { sub: 'user-sub-1' } } } });
    const env = await envOf(site(), e);
    expect(env.REMOTE_USER).toBe('user-sub-1');
    expect(env.AUTH_TYPE).toBe('JWT');
  });

  it('REST Cognito user pool authorizer: claims', async () => {
    const e = restEvent({ path: '/cgi-bin/env.sh' }, { authorizer: { claims: { 'cognito:username': 'bob', sub: 'x' } } });
    const env = await envOf(site(), e);
    expect(env.REMOTE_USER).toBe('bob');
    expect(env.AUTH_TYPE).toBe('JWT');
  });

  it('REST Lambda authorizer: principalId', async () => {
    const e = restEvent({ path: '/cgi-bin/env.sh' }, { authorizer: { principalId: 'user-42', integrationLatency: 3 } });
    const env = await envOf(site(), e);
    expect(env.REMOTE_USER).toBe('user-42');
    expect(env.AUTH_TYPE).toBe('Lambda');
  });

  it('HTTP API v2 Lambda authorizer: its context username', async () => {
    const e = httpApiEvent({ path: '/cgi-bin/env.sh' }, { authorizer: { lambda: { username: 'carol' } } });
    const env = await envOf(site(), e);
    expect(env.REMOTE_USER).toBe('carol');
    expect(env.AUTH_TYPE).toBe('Lambda');
  });

  it('REST IAM authorization: the caller ARN, AUTH_TYPE the signature scheme', async () => {
    const e = restEvent({ path: '/cgi-bin/env.sh', headers: { Authorization: 'AWS4-HMAC-SHA256 Credential=AKIA/20261125/us-east-1/execute-api/aws4_request' } });
    e.requestContext.identity.userArn = 'arn:aws:iam::123456789012:user/dave';
    const env = await envOf(site(), e);
    expect(env.REMOTE_USER).toBe('arn:aws:iam::123456789012:user/dave');
    expect(env.AUTH_TYPE).toBe('AWS4-HMAC-SHA256');
  });

  it('HTTP API v2 IAM authorization', async () => {
    const e = httpApiEvent({ path: '/cgi-bin/env.sh' }, { authorizer: { iam: { userArn: 'arn:aws:iam::123456789012:user/erin', userId: 'AIDA' } } });
    const env = await envOf(site(), e);
    expect(env.REMOTE_USER).toBe('arn:aws:iam::123456789012:user/erin');
    expect(env.AUTH_TYPE).toBe('IAM');
  });

  it('no authorizer: neither REMOTE_USER nor AUTH_TYPE', async () => {
    const env = await envOf(site(), restEvent({ path: '/cgi-bin/env.sh', headers: { Authorization: 'Basic dTpw' } }));
    expect(env.REMOTE_USER).toBeUndefined();
    expect(env.AUTH_TYPE).toBeUndefined();
  });
});
