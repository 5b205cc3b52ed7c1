import { isIP } from 'node:net';
import type { HttpRequest, HttpResponse } from '../request';
import {
  MB, multiHeaders, obj, readHeaders, rebuildQuery, requireBody, requireMethod, requirePath,
  schemeOf, setCookies, singleHeaders, type EventFormat,
} from './shared';
import { formatBody } from './format-body';

/** Without multi-value headers an ALB answer holds one Set-Cookie: the last, as ALB itself would keep. */
function oneCookieHeaders(res: HttpResponse, warn: (msg: string) => void): Record<string, string> {
  const out = singleHeaders(res.headers, 'set-cookie');
  const cookies = setCookies(res.headers);
  if (cookies.length > 1) {
    warn(`${cookies.length} Set-Cookie headers but the ALB target group has multi-value headers off: only the last is sent`);
  }
  if (cookies.length > 0) out[cookies[cookies.length - 1][0]] = cookies[cookies.length - 1][1];
  return out;
}

/**
 * Application Load Balancer targets. The answer must use the header mode the
 * target group sends: multiValueHeaders when enabled, headers otherwise.
 */
export const albEvent: EventFormat = {
  name: 'ALB',
  maxPayloadBytes: 1 * MB,

  matches: (e) => obj(obj(e.requestContext)?.elb) !== undefined,

  toRequest(e): HttpRequest {
    const headers = readHeaders(e.multiValueHeaders, e.headers);
    // ALB appends the address it saw; earlier entries are whatever the client claimed.
    const forwardedFor = (headers['x-forwarded-for'] ?? [])
      .join(',')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => isIP(s) !== 0)
      .pop();
    return {
      source: 'alb',
      method: requireMethod(e.httpMethod),
      path: requirePath(e.path),
      basePath: '',
      // ALB hands query values over still percent-encoded: joined as they came.
      query: rebuildQuery(e.multiValueQueryStringParameters, e.queryStringParameters, true),
      headers,
      body: requireBody(e),
      remoteAddr: forwardedFor || '127.0.0.1',
      scheme: schemeOf(headers, 'http'),
      protocol: 'HTTP/1.1',
    };
  },

  toResult(res, e, head, warn) {
    const multi = obj(e.multiValueHeaders) !== undefined;
    return {
      statusCode: res.status,
      statusDescription: `${res.status} ${res.reason}`,
      ...(multi ? { multiValueHeaders: multiHeaders(res.headers) } : { headers: oneCookieHeaders(res, warn) }),
      ...formatBody(res, head),
    };
  },
};
