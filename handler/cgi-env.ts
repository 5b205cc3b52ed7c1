import { SERVER_SOFTWARE, type Config } from './config';
import { firstHeader, type HttpRequest } from './request';

export interface CgiEnvInput {
  config: Config;
  req: HttpRequest;
  /** Absolute path of the script. */
  file: string;
  /** Decoded URL path of the script, below the base path. */
  scriptName: string;
  pathInfo: string;
  requestId: string;
  /** Set on a local redirect (a script's `Location: /path`) or an ErrorDocument: the URL first asked for, and the error's status. */
  redirectedFrom?: { path: string; query: string; status?: number };
  /** The variables the site's configuration gives the script (SetEnv, PassEnv); the passed and fixed ones by default. */
  baseEnv?: Record<string, string>;
  /** CGIPassAuth for the script's directory; CGI_PASS_AUTH when unset. */
  passAuth?: boolean;
}

/** Request headers that have their own meta-variable, or none at all (RFC 3875 §4.1.18). */
const NOT_AS_HTTP = new Set(['content-type', 'content-length', 'authorization', 'proxy-authorization', 'proxy']);
const HEADER_NAME = /^[A-Za-z0-9-]+$/;
// Shellshock: a bash function definition smuggled through an environment variable.
const BASH_FUNCTION = /^\s*\(\)\s*\{/;
const envNames = new Map<string, string>();

function envNameFor(header: string): string | undefined {
  let name = envNames.get(header);
  if (name === undefined) {
    if (!HEADER_NAME.test(header)) return undefined;
    name = 'HTTP_' + header.toUpperCase().replace(/-/g, '_');
    if (envNames.size < 1000) envNames.set(header, name);
  }
  return name;
}

export function safeValue(value: string): boolean {
  return !value.includes('\0') && !BASH_FUNCTION.test(value);
}

/** A Host header that names a host (and port), or nothing: it becomes SERVER_NAME, so no payloads. */
const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/;
const PORT = /^\d{1,5}$/;

function splitHost(host: string | undefined): { name: string; port?: string } {
  const m = host === undefined ? null : HOST.exec(host);
  return m ? { name: m[1], port: m[2] } : { name: 'localhost' };
}

/** Joins a header's values as RFC 3875 asks: commas, except cookies, which take '; '. */
function joined(name: string, values: string[]): string | undefined {
  if (values.length === 1) return safeValue(values[0]) ? values[0] : undefined;
  if (!values.every(safeValue)) return undefined;
  return values.join(name === 'cookie' ? '; ' : ', ');
}

export function requestUri(basePath: string, path: string, query: string): string {
  return basePath + path + (query === '' ? '' : '?' + query);
}

/**
 * The whole environment of one CGI process, in RFC 3875 §4.1 order, then the
 * variables Apache adds, then HTTP_* headers. Nothing else from the function's
 * own environment is in it.
 */
export function buildCgiEnv(input: CgiEnvInput): Record<string, string> {
  const { config, req } = input;
  const basePath = req.basePath;
  // Object.assign, not spread: V8 extends a spread copy's shape one slow step per variable.
  const env: Record<string, string> = input.baseEnv ?? Object.assign({}, config.passedEnv, config.fixedEnv);
  const passAuth = input.passAuth ?? config.passAuth;
  const contentType = firstHeader(req, 'content-type');
  const host = splitHost(config.serverName ?? firstHeader(req, 'host'));
  const forwardedPort = firstHeader(req, 'x-forwarded-port');
  const port = host.port ?? (forwardedPort && PORT.test(forwardedPort) ? forwardedPort : req.scheme === 'https' ? '443' : '80');
  const auth = req.auth !== undefined && safeValue(req.auth.user) && safeValue(req.auth.type) ? req.auth : undefined;

  if (auth !== undefined) env.AUTH_TYPE = auth.type;
  if (req.body.length > 0 || req.headers['content-length'] !== undefined) {
    env.CONTENT_LENGTH = String(req.body.length);
  }
  if (contentType !== undefined && safeValue(contentType)) env.CONTENT_TYPE = contentType;
  env.GATEWAY_INTERFACE = 'CGI/1.1';
  if (input.pathInfo !== '') {
    env.PATH_INFO = input.pathInfo;
    env.PATH_TRANSLATED = config.documentRoot + input.pathInfo;
  }
  env.QUERY_STRING = req.query;
  env.REMOTE_ADDR = req.remoteAddr;
  env.REMOTE_HOST = req.remoteAddr;
  if (auth !== undefined) env.REMOTE_USER = auth.user;
  env.REQUEST_METHOD = req.method;
  env.SCRIPT_NAME = basePath + input.scriptName;
  env.SERVER_NAME = host.name;
  env.SERVER_PORT = port;
  env.SERVER_PROTOCOL = req.protocol;
  env.SERVER_SOFTWARE = SERVER_SOFTWARE;

  env.REQUEST_URI = requestUri(basePath, req.path, req.query);
  env.SCRIPT_FILENAME = input.file;
  env.DOCUMENT_ROOT = config.documentRoot;
  env.REQUEST_SCHEME = req.scheme;
  if (req.scheme === 'https') env.HTTPS = 'on';
  if (config.serverAdmin !== undefined) env.SERVER_ADMIN = config.serverAdmin;
  env.REDIRECT_STATUS = String(input.redirectedFrom?.status ?? 200);
  if (input.redirectedFrom !== undefined) {
    env.REDIRECT_URL = basePath + input.redirectedFrom.path;
    if (input.redirectedFrom.query !== '') env.REDIRECT_QUERY_STRING = input.redirectedFrom.query;
  }
  env.UNIQUE_ID = input.requestId;

  for (const name in req.headers) {
    if (NOT_AS_HTTP.has(name) && !(name === 'authorization' && passAuth)) continue;
    const key = envNameFor(name);
    if (key === undefined) continue;
    const value = joined(name, req.headers[name]);
    if (value !== undefined) env[key] = value;
  }
  return env;
}

/**
 * RFC 3875 §4.4: a query with no unencoded '=' is an ISINDEX search, and its
 * '+'-separated, decoded words become the script's arguments.
 */
export function isindexArgs(query: string): string[] {
  if (query === '' || query.includes('=')) return [];
  const words: string[] = [];
  for (const word of query.split('+')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(word);
    } catch {
      return [];
    }
    if (decoded.includes('\0')) return [];
    words.push(decoded);
  }
  return words;
}
