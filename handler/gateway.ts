import { dirname } from 'node:path';
import { buildCgiEnv, isindexArgs, requestUri } from './cgi-env';
import { parseCgiResponse } from './cgi-response';
import type { Config } from './config';
import { diagnoseFailure } from './diagnose';
import { resolveCommand } from './interpreter';
import { capUri, type Logger } from './log';
import type { CgiOutput, CgiRunner } from './process/runner';
import { makePrivateTmpdir, removePrivateTmpdir } from './process/tmpdir';
import type { HttpRequest, HttpResponse } from './request';
import { resolveRoute, type Route } from './route';
import { conditionalAnswer } from './static';
import { encodeChar } from './events/shared';
import { errorDocumentFor, finishHeaders, listDirectory, serveFile, type DirConfig, type Site, type SiteRequest } from './site';
import { errorResponse, redirectResponse } from './status';
import { ScriptStream, type ResponseSink } from './stream';

export interface Gateway {
  config: Config;
  runner: CgiRunner;
  log: Logger;
  /** The site's Apache-style configuration (CGI_CONFIG, .htaccess). */
  site: Site;
  /** Scripts running now in this process, against CGI_MAX_CONCURRENCY; shared by every request. */
  running: { count: number };
}

export interface Invocation {
  requestId: string;
  /** Time by which every process this request starts must be done. */
  deadline: number;
  /** Most stdout a script may write before the answer could not be delivered anyway. */
  maxOutputBytes: number;
  /** Set when the front door streams: a script's answer goes out through it as the script writes. */
  stream?: ResponseSink;
}

/** Apache's LimitInternalRecursion default. */
const MAX_LOCAL_REDIRECTS = 10;
const EMPTY = Buffer.alloc(0);

type ScriptRoute = Extract<Route, { kind: 'script' }>;
type Redirected = { path: string; query: string; status?: number };
type Dispatched = { res: HttpResponse | { localRedirect: string }; conf?: DirConfig };

function headerBytes(req: HttpRequest): number {
  let n = 0;
  for (const name in req.headers) for (const v of req.headers[name]) n += name.length + v.length + 4;
  return n;
}

/** Refusals that need no file system: sizes first, as Apache checks them before mapping the URL. */
function checkLimits(config: Config, req: HttpRequest): [number, string] | undefined {
  if (req.body.length > config.maxBodyBytes) return [413, `request body of ${req.body.length} bytes exceeds CGI_MAX_BODY_BYTES`];
  if (req.path.length + req.query.length > config.maxHeaderBytes) return [414, 'request URI exceeds CGI_MAX_HEADER_BYTES'];
  if (headerBytes(req) > config.maxHeaderBytes) return [431, 'request headers exceed CGI_MAX_HEADER_BYTES'];
  if (req.query.includes('\0')) return [400, 'NUL byte in query string'];
  return undefined;
}

/**
 * The one place where a script's finished header block becomes the answer, for
 * buffered and streamed answers alike (a streamed one has no body yet). It
 * returns `res` itself when the script's own body is to be sent, another
 * response when the gateway answers instead.
 */
function scriptAnswer(req: HttpRequest, res: HttpResponse, explicitStatus: boolean): HttpResponse {
  // Apache's ap_scan_script_header_err: a script's own validators answer conditionals unless it set the status.
  if (explicitStatus) return res;
  const answer = conditionalAnswer(req, res);
  return answer === res ? res : { ...answer, script: res.script, runner: res.runner };
}

/** Why a streamed answer ended, when it was not the script finishing well: its status is long gone. */
function logStreamEnd(log: Logger, requestId: string, script: string, out: CgiOutput, stream: ScriptStream, timeoutMs: number): void {
  const detail = { script, bytes: stream.bodyBytes };
  const killed = 'its process group was killed and the stream ended';
  if (out.timedOut) log.error(requestId, `script timed out after ${timeoutMs} ms, after sending its headers; ${killed}`, detail);
  else if (stream.overLimit || out.tooLarge) log.error(requestId, `script output reached the streaming limit of ${stream.bodyBytes} body bytes; ${killed}`, detail);
  else if (out.aborted) log.warn(requestId, 'the client went away; the script was stopped', detail);
  else if (out.exitCode !== 0) log.warn(requestId, 'script exited abnormally after sending its headers', { ...detail, exitCode: out.exitCode, signal: out.signal });
}

async function runScript(
  gw: Gateway,
  req: HttpRequest,
  route: ScriptRoute,
  inv: Invocation,
  redirectedFrom: Redirected | undefined,
  site: { policy: SiteRequest; conf: DirConfig },
): Promise<HttpResponse | { localRedirect: string }> {
  const { config, log, runner } = gw;
  const script = req.basePath + route.scriptName;
  let servedBy: string | undefined;
  const fail = (status: number, message: string, detail?: Record<string, unknown>) => {
    log.error(inv.requestId, message, { script, ...detail });
    return { ...errorResponse(status), script, runner: servedBy };
  };
  const command = resolveCommand(config, route.file, route.stats);
  if (command.error !== undefined) return fail(500, `cannot execute script: ${command.error}`);
  const timeoutMs = inv.deadline - Date.now();
  if (timeoutMs <= 0) return fail(504, 'no time left to start the script');
  const max = config.maxConcurrency;
  if (max !== undefined && gw.running.count >= max) {
    log.warn(inv.requestId, `${gw.running.count} scripts already running (CGI_MAX_CONCURRENCY=${max}); answered 503`, { script, status: 503 });
    return { ...errorResponse(503, [['Retry-After', '1']]), script };
  }

  const env = buildCgiEnv({
    config, req, file: route.file, scriptName: route.scriptName, pathInfo: route.pathInfo,
    requestId: inv.requestId, redirectedFrom,
    baseEnv: site.policy.scriptEnv(site.conf), passAuth: site.conf.passAuth,
  });
  const tmp = config.privateTmpdir ? makePrivateTmpdir() : undefined;
  if (tmp !== undefined) env.TMPDIR = tmp;
  const head = req.method === 'HEAD';
  const stream = inv.stream && new ScriptStream(inv.stream, {
    nph: route.nph,
    head,
    decide: (res, explicitStatus) => {
      const answer = scriptAnswer(req, res, explicitStatus);
      // The site's Header and Expires rules go out with the streamed headers.
      return { res: finishHeaders(site.conf, answer), scriptBody: answer === res };
    },
    warn: (w) => log.warn(inv.requestId, w, { script }),
  });
  gw.running.count++;
  let out: CgiOutput;
  try {
    out = await runner.run({
      file: command.file,
      args: [...command.args, ...isindexArgs(req.query)],
      cwd: dirname(route.file),
      env,
      stdin: req.body,
      timeoutMs,
      maxOutputBytes: inv.maxOutputBytes,
      onStderrLine: (line) => log.stderr(inv.requestId, script, line),
      ...(stream && { onStdout: stream.push, signal: stream.abort.signal }),
    });
  } finally {
    gw.running.count--;
    removePrivateTmpdir(tmp, (message) => log.warn(inv.requestId, message, { script }));
  }
  servedBy = out.runner;
  const exit = { exitCode: out.exitCode, signal: out.signal };
  if (out.startError !== undefined) return fail(500, `cannot execute script: ${out.startError}`);
  if (stream?.started !== undefined) {
    logStreamEnd(log, inv.requestId, script, out, stream, timeoutMs);
    return { ...stream.started, script, runner: servedBy, streamed: stream.bodyBytes };
  }
  if (out.timedOut) return fail(504, `script timed out after ${timeoutMs} ms; its process group was killed`);
  if (out.tooLarge) {
    return fail(502, `script output exceeds ${inv.maxOutputBytes} bytes, more than the front door can deliver`);
  }

  const held = stream?.heldOutput();
  const parsed = parseCgiResponse(held?.stdout ?? out.stdout, { nph: route.nph, head, bodyFollows: held?.bodyDropped });
  for (const w of parsed.warnings) log.warn(inv.requestId, w, { script });
  const diagnosis = diagnoseFailure(config, dirname(route.file), out, parsed);
  if (diagnosis !== undefined) log.error(inv.requestId, diagnosis, { script });
  if (!parsed.ok) {
    return fail(500, `bad script response: ${parsed.error}`, { ...exit, stderrTail: out.stderrTail });
  }
  if (out.exitCode !== 0) log.warn(inv.requestId, 'script exited abnormally after sending its headers', { script, ...exit });
  const res = parsed.response;
  if (res.kind === 'local-redirect') return { localRedirect: res.location };
  return scriptAnswer(req, { status: res.status, reason: res.reason, headers: res.headers, body: res.body, script, runner: servedBy }, res.explicitStatus);
}

async function answerRoute(
  gw: Gateway,
  req: HttpRequest,
  route: Route,
  inv: Invocation,
  redirectedFrom: Redirected | undefined,
  site: { policy: SiteRequest; conf: DirConfig },
): Promise<HttpResponse | { localRedirect: string }> {
  switch (route.kind) {
    case 'script':
      return runScript(gw, req, route, inv, redirectedFrom, site);
    case 'static':
      return serveFile(site.conf, req, route.file, route.stats, { maxBodyBytes: inv.maxOutputBytes, fromDisk: inv.stream !== undefined });
    case 'listing':
      return listDirectory(req, route.dir, req.basePath + route.urlPath);
    case 'slash':
      return redirectResponse(301, requestUri(req.basePath, route.path, req.query));
    case 'error':
      gw.log.warn(inv.requestId, `refused ${req.method} ${capUri(req.path)}: ${route.why}`, { status: route.status });
      return errorResponse(route.status);
  }
}

/** The route, then the site's policy for the place it reached, then the answer with the site's headers. */
async function dispatch(gw: Gateway, req: HttpRequest, inv: Invocation, redirectedFrom: Redirected | undefined): Promise<Dispatched> {
  const policy = gw.site.forRequest();
  const route = resolveRoute(gw.config, req.path, policy);
  const checked = policy.check(req, route, inv.requestId);
  const { conf, user } = checked;
  let res = checked.answer ?? (await answerRoute(gw, checked.req, route, inv, redirectedFrom, { policy, conf }));
  if ('localRedirect' in res) return { res, conf };
  // A streamed answer's headers are already out, with the site's headers added as they went.
  if (res.streamed === undefined) res = finishHeaders(conf, res);
  return { res: user === undefined ? res : { ...res, user }, conf };
}

/**
 * Apache's ErrorDocument for one of our own error pages: a text, a redirect
 * to a URL, or a local path served in its place with the status kept (a script
 * there sees REDIRECT_STATUS and REDIRECT_URL).
 */
async function errorDocument(gw: Gateway, req: HttpRequest, inv: Invocation, res: HttpResponse, conf: DirConfig | undefined): Promise<HttpResponse> {
  const doc = res.errorPage ? errorDocumentFor(conf, res.status) : undefined;
  if (doc === undefined) return res;
  const kept = res.headers.filter(([n]) => /^(www-authenticate|allow)$/i.test(n));
  if (doc.kind === 'url') return { ...redirectResponse(302, doc.value), user: res.user };
  if (doc.kind === 'text') {
    return { ...res, headers: [['Content-Type', 'text/html'], ...kept], body: Buffer.from(doc.value), errorPage: false };
  }
  const docReq = { ...redirectedRequest(req, doc.value), method: req.method === 'HEAD' ? 'HEAD' : 'GET' };
  const out = await dispatch(gw, docReq, inv, { path: req.path, query: req.query, status: res.status });
  if ('localRedirect' in out.res || out.res.status >= 400) {
    gw.log.warn(inv.requestId, `ErrorDocument ${res.status} ${doc.value} could not be served either`);
    return res;
  }
  const headers = [...out.res.headers.filter(([n]) => !/^(www-authenticate|allow|status)$/i.test(n)), ...kept];
  return { ...out.res, status: res.status, reason: res.reason, headers, user: res.user, script: out.res.script ?? res.script };
}

/**
 * One of our own error pages for a status decided after the answer was made
 * (the front door's payload limit), through the ErrorDocument of the request's directory.
 */
export async function errorPageFor(gw: Gateway, req: HttpRequest, inv: Invocation, status: number): Promise<HttpResponse> {
  const policy = gw.site.forRequest();
  // Its access was checked (or did not matter) when the request was first routed: no second login or log line.
  const conf = policy.confAt(resolveRoute(gw.config, req.path, policy));
  return errorDocument(gw, req, inv, errorResponse(status), conf);
}

/** Keeps existing %XX escapes in a script's Location path and encodes what a URL cannot hold raw. */
function encodeLocationPath(path: string): string {
  return path.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]|%(?![0-9A-Fa-f]{2})/gu, encodeChar);
}

/**
 * A local redirect (RFC 3875 §6.2.2): the script named a path, so the server
 * answers with that path instead, as a fresh GET without the request body.
 */
function redirectedRequest(req: HttpRequest, location: string): HttpRequest {
  const basePath = req.basePath;
  const noFragment = location.split('#')[0];
  const q = noFragment.indexOf('?');
  let path = q < 0 ? noFragment : noFragment.slice(0, q);
  if (basePath !== '' && (path === basePath || path.startsWith(basePath + '/'))) {
    path = path.slice(basePath.length) || '/';
  }
  const headers = { ...req.headers };
  delete headers['content-type'];
  delete headers['content-length'];
  return { ...req, method: 'GET', path: encodeLocationPath(path), query: q < 0 ? '' : noFragment.slice(q + 1), headers, body: EMPTY };
}

/**
 * The request as the rest of the gateway sees it: CGI_BASE_PATH, when set, is
 * the public prefix instead of the detected stage; where the front door left it
 * in the path (a REST base path mapping on a custom domain), routing must not see it.
 */
export function withBasePath(config: Config, req: HttpRequest): HttpRequest {
  const base = config.basePath;
  if (base === undefined) return req;
  const inPath = base !== '' && (req.path === base || req.path.startsWith(base + '/'));
  return { ...req, basePath: base, path: inPath ? req.path.slice(base.length) : req.path };
}

/** One HTTP request (already through withBasePath) through routing, the script (and its local redirects) to a response. */
export async function serveRequest(gw: Gateway, req: HttpRequest, inv: Invocation): Promise<HttpResponse> {
  const refused = checkLimits(gw.config, req);
  if (refused !== undefined) {
    gw.log.warn(inv.requestId, `refused ${req.method} request: ${refused[1]}`, { status: refused[0] });
    // The script never starts, but the site's ErrorDocument (a friendly 413 page) still applies.
    return errorPageFor(gw, { ...req, body: EMPTY }, inv, refused[0]);
  }
  let current = req;
  let redirectedFrom: Redirected | undefined;
  for (let hops = 0; ; hops++) {
    const { res, conf } = await dispatch(gw, current, inv, redirectedFrom);
    if (!('localRedirect' in res)) {
      if (res.error !== undefined) gw.log.error(inv.requestId, res.error, { status: res.status });
      return errorDocument(gw, current, inv, res, conf);
    }
    if (hops >= MAX_LOCAL_REDIRECTS) {
      gw.log.error(inv.requestId, `more than ${MAX_LOCAL_REDIRECTS} local redirects; last to ${res.localRedirect}`);
      return errorResponse(500);
    }
    redirectedFrom ??= { path: req.path, query: req.query };
    current = redirectedRequest(current, res.localRedirect);
  }
}
