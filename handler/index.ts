import { randomUUID } from 'node:crypto';
import { requestUri } from './cgi-env';
import { MAX_HEADER_BLOCK } from './cgi-response';
import { loadConfig, type Config } from './config';
import { BadEventError, describeEvent, detectEventFormat, isWarmup, sketchRequest, type EventFormat } from './events';
import { serveRequest, withBasePath, type Gateway } from './gateway';
import { createLogger, type AccessEntry, type Logger } from './log';
import { SpawnRunner } from './process/spawn';
import { setSweeping } from './process/sweep';
import type { CgiRunner } from './process/runner';
import { firstHeader, type HttpRequest, type HttpResponse } from './request';
import { errorResponse } from './status';

// SIGUSR1 makes Node open its inspector on 127.0.0.1:9229, and any script runs as
// our uid and may send it: from the inspector it could read our memory and plant
// code in every later request. With a listener installed, Node no longer does that.
process.on('SIGUSR1', () => {});

/** The part of Lambda's context object the handler uses. */
export interface LambdaContext {
  awsRequestId?: string;
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
function fitsPayload(result: ProxyResult, limit: number): boolean {
  const body = typeof result.body === 'string' ? result.body : '';
  const base64 = result.isBase64Encoded === true;
  // JSON escaping at most sextuples a text byte (\u0000); headers are bounded by the header block limit.
  if ((base64 ? body.length : body.length * 3 * 6) + HEADROOM <= limit) return true;
  const rest = Buffer.byteLength(JSON.stringify(result, (key, value) => (key === 'body' ? '' : value)));
  if (base64) return rest + body.length <= limit;
  return rest + Buffer.byteLength(JSON.stringify(body)) - 2 <= limit;
}

/** The request's half of an access-log line. */
type Caller = Pick<AccessEntry, 'method' | 'uri' | 'protocol' | 'remoteAddr' | 'user' | 'referer' | 'userAgent'>;

function callerOf(req: HttpRequest): Caller {
  return {
    method: req.method,
    uri: requestUri(req.basePath, req.path, req.query),
    protocol: req.protocol,
    remoteAddr: req.remoteAddr,
    user: req.auth?.user,
    referer: firstHeader(req, 'referer'),
    userAgent: firstHeader(req, 'user-agent'),
  };
}

function logAccess(log: Logger, requestId: string, caller: Caller, res: HttpResponse, head: boolean, started: number) {
  log.access({
    requestId,
    ...caller,
    status: res.status,
    bytes: head ? 0 : res.body.length,
    durationMs: Date.now() - started,
    script: res.script,
  });
}

async function answer(
  gw: Gateway,
  format: EventFormat,
  event: Record<string, unknown>,
  context: LambdaContext | undefined,
): Promise<ProxyResult> {
  const started = Date.now();
  const requestId = context?.awsRequestId ?? randomUUID();
  const warn = (message: string) => gw.log.warn(requestId, message);
  let req: HttpRequest;
  try {
    req = withBasePath(gw.config, format.toRequest(event));
  } catch (err) {
    const why = err instanceof BadEventError ? err.message : `unreadable event: ${(err as Error).message}`;
    gw.log.warn(requestId, `malformed ${format.name} event: ${why}`);
    const caller = { ...sketchRequest(event), protocol: 'HTTP/1.1' };
    const res = errorResponse(400);
    const head = caller.method === 'HEAD';
    logAccess(gw.log, requestId, caller, res, head, started);
    return format.toResult(res, event, head, warn);
  }

  let res: HttpResponse;
  try {
    res = await serveRequest(gw, req, {
      requestId,
      deadline: started + timeoutFor(gw.config, context),
      maxOutputBytes: format.maxPayloadBytes + MAX_HEADER_BLOCK,
    });
  } catch (err) {
    gw.log.error(requestId, `internal error: ${(err as Error).stack ?? err}`);
    res = errorResponse(500);
  }
  const head = req.method === 'HEAD';
  let result = format.toResult(res, event, head, warn);
  if (!fitsPayload(result, format.maxPayloadBytes)) {
    const what = res.file === undefined ? 'response' : `static file ${res.file}`;
    const hint = res.file === undefined ? '' : ' (counted after base64 for binary files); clients can fetch it in parts with Range';
    gw.log.error(requestId, `${what} of ${res.body.length} body bytes exceeds the ${format.name} payload limit of ${format.maxPayloadBytes} bytes${hint}`, { script: res.script });
    res = { ...errorResponse(502), script: res.script, file: res.file };
    result = format.toResult(res, event, head, warn);
  }
  logAccess(gw.log, requestId, callerOf(req), res, head, started);
  return result;
}

export function createHandler(options: HandlerOptions = {}) {
  let gateway: Gateway | undefined;
  const gw = (requestId: string): Gateway => {
    if (gateway === undefined) {
      const config = options.config ?? loadConfig();
      gateway = {
        config,
        runner: options.runner ?? new SpawnRunner({ execShim: config.execShim, rlimits: config.rlimits }),
        log: options.logger ?? createLogger(config.logFormat),
      };
      if (!setSweeping(config.sweep) && config.sweep) {
        gateway.log.warn(requestId, 'CGI_SWEEP is off: running as root, "our uid" would be every process on the machine');
      }
      for (const r of config.refusedEnv) {
        gateway.log.warn(requestId, `${r.setting} asks for ${r.name}, which is never passed to scripts: ${r.why}`);
      }
    }
    return gateway;
  };

  return async function handler(event: unknown, context?: LambdaContext): Promise<ProxyResult> {
    if (isWarmup(event)) return { warmed: true };
    const format = detectEventFormat(event);
    if (format === undefined) {
      throw new Error(
        `lambda-cgi handles API Gateway, ALB and Function URL HTTP events; this invocation sent ${describeEvent(event)}`,
      );
    }
    let gateway: Gateway;
    try {
      gateway = gw(context?.awsRequestId ?? '-');
    } catch (err) {
      // A misconfigured function answers every request 500 and says why in the log, each time.
      const log = options.logger ?? createLogger('json');
      log.error(context?.awsRequestId ?? '-', `lambda-cgi is misconfigured: ${(err as Error).message}`);
      return format.toResult(errorResponse(500), event as Record<string, unknown>, false, () => {});
    }
    return answer(gateway, format, event as Record<string, unknown>, context);
  };
}

export { registerLongLived, setSweeping, unregisterLongLived } from './process/sweep';

/** The Lambda entry point: configuration is read from the environment on the first request. */
export const handler = createHandler();
