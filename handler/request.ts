import type { RequestBody } from './body';
/**
 * The one request type every event format is turned into. Nothing past the
 * normalisers in events/ looks at an API Gateway, ALB or Function URL field.
 */
export interface HttpRequest {
  /** Which front door sent it; for logs and payload limits only. */
  source: 'rest' | 'http-v1' | 'http' | 'function-url' | 'alb';
  method: string;
  /**
   * Path used for routing: percent-encoded, starting with '/', without any stage or
   * base path; '' when the URL was the base path itself with no slash after it.
   */
  path: string;
  /** Public path prefix the browser sees before `path` ('/dev' for a REST stage), or ''. */
  basePath: string;
  /** Raw query string without '?', as the client sent it (or a faithful rebuild). */
  query: string;
  /** Header values by lower-case name, in arrival order; cookies are one 'cookie' entry. */
  headers: Record<string, string[]>;
  body: RequestBody;
  remoteAddr: string;
  scheme: 'http' | 'https';
  protocol: string;
  /** The caller an authorizer identified, if any. */
  auth?: { user: string; type: string };
}

export interface HttpResponse {
  status: number;
  reason: string;
  /** Header lines in the order the script sent them, names as it spelled them. */
  headers: Array<[string, string]>;
  body: Buffer;
  /** SCRIPT_NAME of the script that answered, for the access log. */
  script?: string;
  /** The user Basic authentication identified, for the access log. */
  user?: string;
  /** One of the gateway's own error pages: the site's ErrorDocument may stand in for it. */
  errorPage?: boolean;
  /** Which runner ran the script ('spawn', 'perl-worker'), for the access log. */
  runner?: string;
  /** Set when status, headers and this many body bytes already went out through a streaming front door. */
  streamed?: number;
  /** The static file that answered, for log lines. */
  file?: string;
  /** A body left on disk for a streaming front door to read (`body` is then empty). */
  bodyFile?: { path: string; start: number; length: number };
  /** Why this is an error answer, for the gateway to log (from parts that have no logger). */
  error?: string;
}

export function firstHeader(req: HttpRequest, name: string): string | undefined {
  return req.headers[name]?.[0];
}
