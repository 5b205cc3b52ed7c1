import type { HttpRequest } from '../request';
import {
  BadEventError, EXECUTE_API_HOST, MB, authFrom, claimUser, encodePath, fromOffline, obj, offlineRawQuery, readHeaders, reencodePath, requireBody,
  requireMethod, requirePath,
  schemeOf, setCookies, singleHeaders, str, type EventFormat,
} from './shared';
import { formatBody } from './format-body';

const FUNCTION_URL_HOST = /\.lambda-url\.[a-z0-9-]+\.on\.aws$/;

/**
 * A named HTTP API stage starts rawPath on every domain, but only the
 * execute-api domain shows it in the browser; custom domains show their
 * mapping key instead, which the event does not carry (CGI_BASE_PATH).
 */
function splitStage(path: string, stage: string | undefined, domain: string) {
  if (!stage || stage === '$default' || !(path === `/${stage}` || path.startsWith(`/${stage}/`))) {
    return { path, basePath: '' };
  }
  const basePath = EXECUTE_API_HOST.test(domain) ? `/${stage}` : '';
  // The bare stage URL (/dev) becomes '', a directory asked for without its slash.
  return { path: path.slice(stage.length + 1) || (basePath === '' ? '/' : ''), basePath };
}

function authOf(authorizer: Record<string, unknown> | undefined, headers: Record<string, string[]>) {
  if (authorizer === undefined) return undefined;
  const jwtUser = claimUser(obj(authorizer.jwt)?.claims);
  if (jwtUser !== undefined) return authFrom(headers, jwtUser, 'JWT');
  const iam = obj(authorizer.iam);
  if (iam !== undefined) return authFrom(headers, iam.userArn ?? iam.userId, 'IAM');
  const lambda = obj(authorizer.lambda);
  return authFrom(headers, lambda?.username ?? lambda?.user ?? lambda?.principalId, 'Lambda');
}

/** HTTP APIs (payload format 2.0) and Lambda Function URLs. */
export const httpEvent: EventFormat = {
  name: 'payload 2.0 (HTTP API / Function URL)',
  maxPayloadBytes: 6 * MB,

  matches: (e) => e.version === '2.0' && obj(e.requestContext) !== undefined,

  toRequest(e): HttpRequest {
    const ctx = obj(e.requestContext)!;
    const http = obj(ctx.http);
    if (http === undefined) throw new BadEventError('requestContext.http is missing');
    const headers = readHeaders(undefined, e.headers);
    if (Array.isArray(e.cookies) && e.cookies.length > 0) {
      headers.cookie = [e.cookies.filter((c): c is string => typeof c === 'string').join('; ')];
    }
    const domain = str(ctx.domainName) ?? '';
    const functionUrl = FUNCTION_URL_HOST.test(domain);
    // HTTP APIs hand over the path already decoded; Function URLs leave it as sent,
    // and so does serverless-offline (its rawPath is the URL's encoded pathname).
    const rawPath = requirePath(e.rawPath ?? http.path);
    const encoded = functionUrl || fromOffline(ctx) ? reencodePath(rawPath) : encodePath(rawPath);
    const { path, basePath } = splitStage(encoded, str(ctx.stage), domain);
    return {
      source: functionUrl ? 'function-url' : 'http',
      method: requireMethod(http.method),
      path,
      basePath,
      query: typeof e.rawQueryString !== 'string' ? '' : fromOffline(ctx) ? offlineRawQuery(e.rawQueryString) : e.rawQueryString,
      headers,
      body: requireBody(e),
      remoteAddr: str(http.sourceIp) ?? '127.0.0.1',
      scheme: schemeOf(headers, fromOffline(ctx) ? 'http' : 'https'),
      protocol: str(http.protocol) ?? 'HTTP/1.1',
      auth: authOf(obj(ctx.authorizer), headers),
    };
  },

  toResult(res, _e, head) {
    const cookies = setCookies(res.headers).map(([, v]) => v);
    return {
      statusCode: res.status,
      headers: singleHeaders(res.headers, 'set-cookie'),
      ...(cookies.length > 0 ? { cookies } : {}),
      ...formatBody(res, head),
    };
  },
};
