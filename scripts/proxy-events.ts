/**
 * Builders for the events each front door really sends (see
 * ../shared/notes/aws-event-facts.md): what an HTTP client sent goes in, the
 * event AWS would hand the function comes out. Used by scripts/invoke.ts and,
 * through test/support/events.ts, by the tests.
 *
 * The per-request details AWS fills in (request id, time, user agent, domain)
 * default to fixed values so that tests get the same event every time;
 * scripts/invoke.ts passes real ones.
 */
export interface ClientRequest {
  method?: string;
  /** Path as the client sent it, percent-encoded. */
  path: string;
  /** Raw query string without '?'. */
  query?: string;
  headers?: Record<string, string | string[]>;
  /** A Buffer arrives base64-encoded (isBase64Encoded), a string as text. */
  body?: string | Buffer;
  sourceIp?: string;
}

export type Event = Record<string, any>;

/** What API Gateway or the Function URL service adds about the request itself. */
export interface RequestMeta {
  requestId?: string;
  /** requestContext.userAgent fields (AWS copies the User-Agent header there). */
  userAgent?: string;
  /** When the request arrived (payload 2.0 `time` and `timeEpoch`). */
  time?: Date;
}

export const API_DOMAIN = 'abc123.execute-api.us-east-1.amazonaws.com';
export const URL_DOMAIN = 'abcdefghij.lambda-url.us-east-1.on.aws';
const DEFAULT_TIME = new Date(1795608000000);
const DEFAULT_SOURCE_IP = '203.0.113.9';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

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

/** API Gateway's request time: `25/Nov/2026:12:00:00 +0000`. */
function clfTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/**
 * API Gateway REST API (payload 1.0), stage `stage`. On the execute-api domain the
 * stage shows in requestContext.path; `stageInPath: false` is a custom domain without it.
 */
export function restEvent(
  req: ClientRequest,
  opts: { stage?: string; authorizer?: Event; domainName?: string; stageInPath?: boolean } & RequestMeta = {},
): Event {
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
      path: opts.stageInPath === false ? req.path : `/${stage}${req.path}`,
      stage,
      protocol: 'HTTP/1.1',
      requestId: opts.requestId ?? 'rest-request-id',
      domainName: opts.domainName ?? API_DOMAIN,
      identity: { sourceIp: req.sourceIp ?? DEFAULT_SOURCE_IP, userAgent: opts.userAgent ?? 'test' },
      ...(opts.authorizer ? { authorizer: opts.authorizer } : {}),
    },
    ...bodyOf(req),
  };
}

/** HTTP API, payload 2.0: the path arrives decoded, repeated headers comma-joined, cookies apart. */
export function httpApiEvent(
  req: ClientRequest,
  opts: { stage?: string; domainName?: string; apiId?: string; authorizer?: Event } & RequestMeta = {},
): Event {
  const stage = opts.stage ?? '$default';
  const apiId = opts.apiId ?? 'abc123';
  const time = opts.time ?? DEFAULT_TIME;
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
      apiId,
      domainName: opts.domainName ?? API_DOMAIN,
      domainPrefix: apiId,
      http: {
        method: req.method ?? 'GET',
        path: rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: req.sourceIp ?? DEFAULT_SOURCE_IP,
        userAgent: opts.userAgent ?? 'test',
      },
      requestId: opts.requestId ?? 'http-request-id',
      routeKey: '$default',
      stage,
      time: clfTime(time),
      timeEpoch: time.getTime(),
      ...(opts.authorizer ? { authorizer: opts.authorizer } : {}),
    },
    ...bodyOf(req),
  };
}

/** Lambda Function URL: payload 2.0, but the path stays percent-encoded. */
export function functionUrlEvent(req: ClientRequest, opts: { domainName?: string; apiId?: string } & RequestMeta = {}): Event {
  const event = httpApiEvent(req, { ...opts, domainName: opts.domainName ?? URL_DOMAIN });
  event.rawPath = req.path;
  event.requestContext.http.path = req.path;
  return event;
}

/** ALB target: query values still percent-encoded, client address in X-Forwarded-For. */
export function albEvent(req: ClientRequest, opts: { multi: boolean }): Event {
  const list: Array<[string, string]> = [
    ['x-forwarded-for', req.sourceIp ?? DEFAULT_SOURCE_IP],
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

/**
 * The header lines of any proxy result, in the order a front door would send
 * them: multiValueHeaders, then headers it did not already give, then one
 * Set-Cookie per cookies[] entry (payload 2.0).
 */
export function resultHeaders(result: Event): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const seen = new Set<string>();
  for (const [n, v] of Object.entries(result.multiValueHeaders ?? {})) {
    seen.add(n.toLowerCase());
    for (const x of Array.isArray(v) ? v : [v]) out.push([n, String(x)]);
  }
  for (const [n, v] of Object.entries(result.headers ?? {})) {
    if (!seen.has(n.toLowerCase())) out.push([n, String(v)]);
  }
  for (const c of Array.isArray(result.cookies) ? result.cookies : []) out.push(['Set-Cookie', String(c)]);
  return out;
}
