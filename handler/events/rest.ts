import type { HttpRequest } from '../request';
import {
  EXECUTE_API_HOST, MB, authFrom, claimUser, encodePath, fromOffline, multiHeaders, obj, readHeaders, rebuildQuery,
  requireBody, requireMethod, requirePath, schemeOf, str, type EventFormat,
} from './shared';
import { formatBody } from './format-body';

/**
 * Where the browser's path differs from `path`: a REST stage (`/dev`) or base path
 * shows in requestContext.path; an HTTP API named stage shows in `path` itself.
 */
function splitBasePath(event: Record<string, unknown>, ctx: Record<string, unknown>, path: string) {
  const stage = str(ctx.stage);
  if (event.version === '1.0' && stage && stage !== '$default' && (path === `/${stage}` || path.startsWith(`/${stage}/`))) {
    // As with payload 2.0, only the execute-api domain shows the stage in the browser.
    const basePath = EXECUTE_API_HOST.test(str(ctx.domainName) ?? '') ? `/${stage}` : '';
    return { path: path.slice(stage.length + 1) || (basePath === '' ? '/' : ''), basePath };
  }
  const full = str(ctx.path);
  // The bare stage URL (/dev): '' routes as a directory asked for without its slash.
  if (path === '/' && full !== undefined && full.length > 1 && !full.endsWith('/')) return { path: '', basePath: full };
  if (full !== undefined && full !== path && full.endsWith(path)) {
    return { path, basePath: full.slice(0, full.length - path.length).replace(/\/$/, '') };
  }
  // serverless-offline serves REST routes under /{stage} but leaves the stage out of
  // requestContext.path; its resourcePath still shows whether the stage is in the URL.
  const resource = str(ctx.resourcePath);
  if (fromOffline(ctx) && stage && resource?.startsWith(`/${stage}/`)) {
    return { path, basePath: `/${stage}` };
  }
  return { path, basePath: '' };
}

function authOf(ctx: Record<string, unknown>, headers: Record<string, string[]>) {
  const authorizer = obj(ctx.authorizer);
  const identity = obj(ctx.identity);
  const jwtUser = claimUser(obj(authorizer?.jwt)?.claims) ?? claimUser(authorizer?.claims);
  if (jwtUser !== undefined) return authFrom(headers, jwtUser, 'JWT');
  if (typeof authorizer?.principalId === 'string') return authFrom(headers, authorizer.principalId, 'Lambda');
  return authFrom(headers, identity?.userArn ?? identity?.user, 'IAM');
}

/** API Gateway REST APIs, and HTTP APIs sending payload format 1.0. */
export const restEvent: EventFormat = {
  name: 'API Gateway payload 1.0',
  maxPayloadBytes: 6 * MB,

  // A REST event missing its method is still one (answered 400), not a foreign event.
  matches: (e) =>
    obj(e.requestContext) !== undefined &&
    (typeof e.httpMethod === 'string' || typeof e.path === 'string' || typeof e.resource === 'string'),

  toRequest(e): HttpRequest {
    const ctx = obj(e.requestContext)!;
    const httpApi = e.version === '1.0';
    const headers = readHeaders(e.multiValueHeaders, e.headers);
    const rawPath = requirePath(e.path);
    const { path, basePath } = splitBasePath(e, ctx, httpApi ? encodePath(rawPath) : rawPath);
    return {
      source: httpApi ? 'http-v1' : 'rest',
      method: requireMethod(e.httpMethod),
      path,
      basePath,
      query: rebuildQuery(e.multiValueQueryStringParameters, e.queryStringParameters, false),
      headers,
      body: requireBody(e),
      remoteAddr: str(obj(ctx.identity)?.sourceIp) ?? '127.0.0.1',
      scheme: schemeOf(headers, fromOffline(ctx) ? 'http' : 'https'),
      protocol: str(ctx.protocol) ?? 'HTTP/1.1',
      auth: authOf(ctx, headers),
    };
  },

  toResult(res, _e, head) {
    return {
      statusCode: res.status,
      multiValueHeaders: multiHeaders(res.headers),
      ...formatBody(res, head),
    };
  },
};
