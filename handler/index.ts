import { randomUUID } from 'node:crypto';
import { requestUri } from './cgi-env';
import { MAX_HEADER_BLOCK } from './cgi-response';
import { loadConfig, type Config } from './config';
import { jsonTextBytes } from './body';
import { BadEventError, describeEvent, detectEventFormat, isWarmup, sketchRequest, type EventFormat } from './events';
import { errorPageFor, serveRequest, withBasePath, type Gateway } from './gateway';
import { createLogger, type AccessEntry, type Logger } from './log';
import { createRunner } from './process/select';
import { setSweeping } from './process/sweep';
import { Site } from './site';
import type { CgiRunner } from './process/runner';
import { firstHeader, type HttpRequest, type HttpResponse } from './request';
import { startupProblems } from './startup';
import { errorResponse } from './status';
import { STREAM_MAX_BYTES, type ResponseSink } from './stream';
import { endStream, preludeOf, responseSink, sendWhole, streamifyResponse, type LambdaResponseStream } from './lambda-stream';
import { prepareWritable } from './writable';

// SIGUSR1 makes Node open its inspector on 127.0.0.1:9229, and any script runs as
// our uid and may send it: from the inspector it could read our memory and plant
// code in every later request. With a listener installed, Node no longer does that.
process.on('SIGUSR1', () => {});

/** The part of Lambda's context object the handler uses. */
export interface LambdaContext {
  awsRequestId?: string;
  /** Per invocation, unlike the _X_AMZN_TRACE_ID variable, which concurrent invocations would share. */
  xRayTraceId?: string;
  getRemainingTimeInMillis?: () => number;
}
export type ProxyResult = Record<string, unknown>;

/** Time kept back from the invocation's remaining time to answer 504 before Lambda kills us. */
const TIMEOUT_MARGIN_MS = 500;
const FALLBACK_TIMEOUT_MS = 30_000;
/** More than the JSON around any body can take: script headers are capped at MAX_HEADER_BLOCK. */
const HEADROOM = 4 * MAX_HEADER_BLOCK;

export interface HandlerOptions {
  config?: Config;
  runner?: CgiRunner;
  logger?: Logger;
  /** Read the configuration and start the runner (the Perl worker) now, not at the first request. */
  eager?: boolean;
  /** streamHandler's body limit; Lambda's 200 MB unless a test wants a smaller one. */
  streamMaxBytes?: number;
}

function timeoutFor(config: Config, context: LambdaContext | undefined): number {
  if (config.timeoutMs !== undefined) return config.timeoutMs;
  const remaining = context?.getRemainingTimeInMillis?.();
  if (remaining === undefined || !Number.isFinite(remaining)) return FALLBACK_TIMEOUT_MS;
  return Math.max(remaining - TIMEOUT_MARGIN_MS, 1);
}

/**
 * Whether the result fits the front door's payload limit once Lambda serialises
 * it. A base64 body needs no escaping, so only a large text body is ever
 * stringified to be measured.
 */
function fitsPayload(result: ProxyResult, res: HttpResponse, limit: number): boolean {
  const body = typeof result.body === 'string' ? result.body : '';
  const base64 = result.isBase64Encoded === true;
  // JSON escaping at most sextuples a text byte (\u0000); headers are bounded by the header block limit.
  if ((base64 ? body.length : body.length * 3 * 6) + HEADROOM <= limit) return true;
  const rest = Buffer.byteLength(JSON.stringify(result, (key, value) => (key === 'body' ? '' : value)));
  // A text body is the response's bytes as UTF-8, so its escaped size is counted on them.
  return rest + (base64 ? body.length : jsonTextBytes(res.body)) <= limit;
}

/** The request's half of an access-log line. */
type Caller = Pick<AccessEntry, 'method' | 'uri' | 'protocol' | 'remoteAddr' | 'user' | 'referer' | 'userAgent'>;

function callerOf(req: HttpRequest, res?: HttpResponse): Caller {
  return {
    method: req.method,
    uri: requestUri(req.basePath, req.path, req.query),
    protocol: req.protocol,
    remoteAddr: req.remoteAddr,
    user: res?.user ?? req.auth?.user,
    referer: firstHeader(req, 'referer'),
    userAgent: firstHeader(req, 'user-agent'),
  };
}

function logAccess(log: Logger, ids: Ids, caller: Caller, res: HttpResponse, head: boolean, started: number) {
  log.access({
    requestId: ids.requestId,
    ...(ids.traceId !== undefined && { traceId: ids.traceId }),
    ...caller,
    status: res.status,
    bytes: head ? 0 : (res.streamed ?? res.bodyFile?.length ?? res.body.length),
    durationMs: Date.now() - started,
    script: res.script,
    runner: res.runner,
  });
}

/** Ids of one invocation, from its own context and event: never module state or process.env. */
interface Ids {
  requestId: string;
  traceId?: string;
}

function idsOf(context: LambdaContext | undefined, event: Record<string, unknown>): Ids {
  const headers = event.headers as Record<string, unknown> | undefined;
  const header = headers?.['x-amzn-trace-id'] ?? headers?.['X-Amzn-Trace-Id'];
  const traceId = context?.xRayTraceId ?? (typeof header === 'string' ? header : undefined);
  return { requestId: context?.awsRequestId ?? randomUUID(), ...(traceId !== undefined && { traceId }) };
}

interface Served {
  res: HttpResponse;
  head: boolean;
  requestId: string;
  log: (res: HttpResponse) => void;
  /** The site's page for an error found after the answer was made (the payload limit). */
  errorPage: (status: number) => Promise<HttpResponse>;
}

/** One request through the gateway; `stream` set when the front door streams the answer. */
async function serveEvent(
  gw: Gateway,
  format: EventFormat,
  event: Record<string, unknown>,
  context: LambdaContext | undefined,
  maxOutputBytes: number,
  stream?: ResponseSink,
): Promise<Served> {
  const started = Date.now();
  const ids = idsOf(context, event);
  const { requestId } = ids;
  let req: HttpRequest;
  try {
    req = withBasePath(gw.config, format.toRequest(event));
  } catch (err) {
    const why = err instanceof BadEventError ? err.message : `unreadable event: ${(err as Error).message}`;
    gw.log.warn(requestId, `malformed ${format.name} event: ${why}`);
    const caller = { ...sketchRequest(event), protocol: 'HTTP/1.1' };
    const res = errorResponse(400);
    const head = caller.method === 'HEAD';
    return { res, head, requestId, log: (r) => logAccess(gw.log, ids, caller, r, head, started), errorPage: async (status) => errorResponse(status) };
  }

  let res: HttpResponse;
  const inv = { requestId, deadline: started + timeoutFor(gw.config, context), maxOutputBytes, stream };
  try {
    res = await serveRequest(gw, req, inv);
  } catch (err) {
    gw.log.error(requestId, `internal error: ${(err as Error).stack ?? err}`);
    res = errorResponse(500);
  }
  const head = req.method === 'HEAD';
  const errorPage = async (status: number) => {
    try {
      return await errorPageFor(gw, req, { ...inv, stream: undefined }, status);
    } catch (err) {
      gw.log.error(requestId, `internal error: ${(err as Error).stack ?? err}`);
      return errorResponse(status);
    }
  };
  return { res, head, requestId, log: (r) => logAccess(gw.log, ids, callerOf(req, r), r, head, started), errorPage };
}

async function answer(
  gw: Gateway,
  format: EventFormat,
  event: Record<string, unknown>,
  context: LambdaContext | undefined,
): Promise<ProxyResult> {
  const served = await serveEvent(gw, format, event, context, format.maxPayloadBytes + MAX_HEADER_BLOCK);
  const { head, requestId } = served;
  let res = served.res;
  const warn = (message: string) => gw.log.warn(requestId, message);
  let result = format.toResult(res, event, head, warn);
  if (!fitsPayload(result, res, format.maxPayloadBytes)) {
    const what = res.file === undefined ? 'response' : `static file ${res.file}`;
    const hint = res.file === undefined ? '' : ' (counted after base64 for binary files); clients can fetch it in parts with Range';
    gw.log.error(requestId, `${what} of ${res.body.length} body bytes exceeds the ${format.name} payload limit of ${format.maxPayloadBytes} bytes${hint}`, { script: res.script });
    res = { ...(await served.errorPage(502)), script: res.script, file: res.file };
    result = format.toResult(res, event, head, warn);
    if (!fitsPayload(result, res, format.maxPayloadBytes)) {
      res = { ...errorResponse(502), script: res.script, file: res.file };
      result = format.toResult(res, event, head, warn);
    }
  }
  served.log(res);
  return result;
}

/** The gateway, built from the environment on first use; a misconfiguration is thrown each time. */
function gatewayOnce(options: HandlerOptions): () => Gateway {
  let gateway: Gateway | undefined;
  const get = () => {
    if (gateway === undefined) {
      const config = options.config ?? loadConfig();
      const log = options.logger ?? createLogger(config.logFormat);
      gateway = { config, runner: options.runner ?? createRunner(config, log), log, running: { count: 0 }, site: new Site(config, log) };
      for (const problem of startupProblems(config)) gateway.log.warn('startup', problem);
      const writable = prepareWritable(config);
      for (const message of writable.warnings) gateway.log.warn('startup', message);
      for (const message of writable.errors) gateway.log.error('startup', message);
      if (!setSweeping(config.sweep) && config.sweep) {
        gateway.log.warn('startup', 'CGI_SWEEP is off: running as root, "our uid" would be every process on the machine');
      }
      for (const r of config.refusedEnv) {
        gateway.log.warn('startup', `${r.setting} asks for ${r.name}, which is never passed to scripts: ${r.why}`);
      }
    }
    return gateway;
  };
  if (options.eager) {
    try {
      get();
    } catch {
      // Reported on every request, with the reason.
    }
  }
  return get;
}

/** The front door an HTTP event came through, or the invocation error for anything else. */
function formatOf(event: unknown): EventFormat {
  const format = detectEventFormat(event);
  if (format === undefined) {
    throw new Error(
      `lambda-cgi handles API Gateway, ALB and Function URL HTTP events; this invocation sent ${describeEvent(event)}`,
    );
  }
  return format;
}

/** The gateway, or undefined after logging why it cannot be built (the request is then answered 500). */
function gatewayOrLog(gw: () => Gateway, options: HandlerOptions, context: LambdaContext | undefined): Gateway | undefined {
  try {
    return gw();
  } catch (err) {
    // A misconfigured function answers every request 500 and says why in the log, each time.
    const log = options.logger ?? createLogger('json');
    log.error(context?.awsRequestId ?? '-', `lambda-cgi is misconfigured: ${(err as Error).message}`);
    return undefined;
  }
}

export function createHandler(options: HandlerOptions = {}) {
  const gw = gatewayOnce(options);
  return async function handler(event: unknown, context?: LambdaContext): Promise<ProxyResult> {
    if (isWarmup(event)) return { warmed: true };
    const format = formatOf(event);
    const gateway = gatewayOrLog(gw, options, context);
    if (gateway === undefined) return format.toResult(errorResponse(500), event as Record<string, unknown>, false, () => {});
    return answer(gateway, format, event as Record<string, unknown>, context);
  };
}

export { registerLongLived, setSweeping, unregisterLongLived } from './process/sweep';

/**
 * The streaming entry point (Function URLs with InvokeMode RESPONSE_STREAM, REST
 * APIs with transfer mode STREAM): the same gateway, with a script's answer sent
 * as it is written.
 */
export function createStreamHandler(options: HandlerOptions = {}) {
  const gw = gatewayOnce(options);
  return streamifyResponse(async (event: unknown, stream: LambdaResponseStream, context?: LambdaContext) => {
    if (isWarmup(event)) {
      await endStream(stream, JSON.stringify({ warmed: true }));
      return;
    }
    const format = formatOf(event);
    const e = event as Record<string, unknown>;
    const warn = (message: string) => gw().log.warn(context?.awsRequestId ?? '-', message);
    const maxBody = options.streamMaxBytes ?? STREAM_MAX_BYTES;
    const sink = responseSink(stream, (res) => preludeOf(format, res, e, warn), maxBody);
    const gateway = gatewayOrLog(gw, options, context);
    if (gateway === undefined) {
      await sendWhole(sink, stream, errorResponse(500), false);
      return;
    }
    const served = await serveEvent(gateway, format, e, context, maxBody + MAX_HEADER_BLOCK, sink);
    if (served.res.streamed === undefined) await sendWhole(sink, stream, served.res, served.head);
    else await endStream(stream);
    served.log(served.res);
  });
}

export { DEFAULT_PERL_PRELOAD } from './config';

/**
 * The Lambda entry points: configuration is read from the environment at init on
 * Lambda and under serverless-offline (so the Perl worker starts then), else on the first request.
 */
const eager = process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined;
export const handler = createHandler({ eager });
export const streamHandler = createStreamHandler({ eager });
