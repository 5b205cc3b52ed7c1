/**
 * Builders for the events each front door really sends (see
 * ../shared/notes/aws-event-facts.md): what an HTTP client sent goes in, the
 * event AWS would hand the function comes out.
 */
export interface ClientRequest {
  method?: string;
  /** Path as the client sent it, percent-encoded. */
  path: string;
  /** Raw query string without '?'. */
  query?: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  sourceIp?: string;
}

export type Event = Record<string, any>;

const API_DOMAIN = 'abc123.execute-api.us-east-1.amazonaws.com';
const URL_DOMAIN = 'abcdefghij.lambda-url.us-east-1.on.aws';

function headerList(req: ClientRequest): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(req.headers ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) out.push([name, v]);
  }
  return out;
}

function bodyOf(req: ClientRequest): { body: string | null; isBase64Encoded: boolean } {
  if (req.body === undefined) return { body: null, isBase64Encoded: false };
  if (Buffer.isBuffer(req.body)) return { body: req.body.toString('base64'), isBase64Encoded: true };
  return { body: req.body, isBase64Encoded: false };
}

/** Decodes like API Gateway's query maps: '+' is a space, %XX its byte. */
function formDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function queryMaps(query: string | undefined, decode: (s: string) => string) {
  if (!query) return { single: null, multi: null };
  const multi: Record<string, string[]> = {};
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = decode(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : decode(part.slice(eq + 1));
    (multi[key] ??= []).push(value);
  }
  const single: Record<string, string> = {};
  for (const [k, v] of Object.entries(multi)) single[k] = v[v.length - 1];
  return { single, multi };
}

function decodePath(path: string): string {
  return path.replace(/(%[0-9A-Fa-f]{2})+/g, (m) => {
    try {
      return decodeURIComponent(m);
    } catch {
      return m;
    }
  });
}

/** API Gateway REST API (payload 1.0) on its execute-api domain, stage `stage`. */
export function restEvent(req: ClientRequest, opts: { stage?: string; authorizer?: Event } = {}): Event {
  const stage = opts.stage ?? 'prod';
  const multiValueHeaders: Record<string, string[]> = {};
  const headers: Record<string, string> = {};
  for (const [n, v] of headerList(req)) {
    (multiValueHeaders[n] ??= []).push(v);
    headers[n] = v;
  }
  const { single, multi } = queryMaps(req.query, formDecode);
  return {
    resource: '/{proxy+}',
    path: req.path,
    httpMethod: req.method ?? 'GET',
    headers,
    multiValueHeaders,
    queryStringParameters: single,
    multiValueQueryStringParameters: multi,
    pathParameters: { proxy: req.path.slice(1) },
    stageVariables: null,
    requestContext: {
      resourcePath: '/{proxy+}',
      httpMethod: req.method ?? 'GET',
      path: `/${stage}${req.path}`,
      stage,
      protocol: 'HTTP/1.1',
      requestId: 'rest-request-id',
      domainName: API_DOMAIN,
      identity: { sourceIp: req.sourceIp ?? '203.0.113.9', userAgent: 'test' },
      ...(opts.authorizer ? { authorizer: opts.authorizer } : {}),
    },
    ...bodyOf(req),
  };
}

/** HTTP API, payload 2.0: the path arrives decoded, repeated headers comma-joined, cookies apart. */
export function httpApiEvent(req: ClientRequest, opts: { stage?: string; domainName?: string; authorizer?: Event } = {}): Event {
  const stage = opts.stage ?? '$default';
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [n, v] of headerList(req)) {
    const name = n.toLowerCase();
    if (name === 'cookie') {
      cookies = [...(cookies ?? []), ...v.split(/;\s*/)];
      continue;
    }
    headers[name] = headers[name] === undefined ? v : `${headers[name]},${v}`;
  }
  const rawPath = (stage === '$default' ? '' : `/${stage}`) + decodePath(req.path);
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: req.query ?? '',
    ...(cookies ? { cookies } : {}),
    headers,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: opts.domainName ?? API_DOMAIN,
      domainPrefix: 'abc123',
      http: { method: req.method ?? 'GET', path: rawPath, protocol: 'HTTP/1.1', sourceIp: req.sourceIp ?? '203.0.113.9', userAgent: 'test' },
      requestId: 'http-request-id',
      routeKey: '$default',
      stage,
      time: '25/Nov/2026:12:00:00 +0000',
      timeEpoch: 1795608000000,
      ...(opts.authorizer ? { authorizer: opts.authorizer } : {}),
    },
    ...bodyOf(req),
  };
}

/** Lambda Function URL: payload 2.0, but the path stays percent-encoded. */
export function functionUrlEvent(req: ClientRequest): Event {
  const event = httpApiEvent(req, { domainName: URL_DOMAIN });
  event.rawPath = req.path;
  event.requestContext.http.path = req.path;
  return event;
}

/** ALB target: query values still percent-encoded, client address in X-Forwarded-For. */
export function albEvent(req: ClientRequest, opts: { multi: boolean }): Event {
  const list: Array<[string, string]> = [
    ['x-forwarded-for', req.sourceIp ?? '203.0.113.9'],
    ['x-forwarded-proto', 'https'],
    ['x-forwarded-port', '443'],
    ...headerList(req).map(([n, v]) => [n.toLowerCase(), v] as [string, string]),
  ];
  const { single, multi } = queryMaps(req.query, (s) => s);
  const event: Event = {
    requestContext: { elb: { targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/cgi/abc' } },
    httpMethod: req.method ?? 'GET',
    path: req.path,
    ...bodyOf(req),
  };
  if (opts.multi) {
    event.multiValueHeaders = {};
    for (const [n, v] of list) (event.multiValueHeaders[n] ??= []).push(v);
    event.multiValueQueryStringParameters = multi ?? {};
  } else {
    event.headers = {};
    for (const [n, v] of list) event.headers[n] = v;
    event.queryStringParameters = single ?? {};
  }
  return event;
}

export interface Answer {
  status: number;
  /** Header values by lower-case name; Set-Cookie from whichever field the format uses. */
  headers: Record<string, string[]>;
  body: Buffer;
  raw: Event;
}

/** Reads any proxy result back into one shape, the way the front door would. */
export function answerOf(result: Event): Answer {
  const headers: Record<string, string[]> = {};
  const add = (n: string, v: string) => (headers[n.toLowerCase()] ??= []).push(v);
  for (const [n, v] of Object.entries(result.multiValueHeaders ?? {})) for (const x of v as string[]) add(n, x);
  for (const [n, v] of Object.entries(result.headers ?? {})) add(n, v as string);
  for (const c of result.cookies ?? []) add('set-cookie', c);
  const body = Buffer.from(result.body ?? '', result.isBase64Encoded ? 'base64' : 'utf8');
  return { status: result.statusCode, headers, body, raw: result };
}
