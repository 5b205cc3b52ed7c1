import { albEvent } from './alb';
import { httpEvent } from './http';
import { restEvent } from './rest';
import { obj, type EventFormat } from './shared';

export { BadEventError, type EventFormat } from './shared';

/** Tried in order; ALB first, since its events also carry `httpMethod`. */
const FORMATS: EventFormat[] = [albEvent, httpEvent, restEvent];

export function detectEventFormat(event: unknown): EventFormat | undefined {
  const e = obj(event);
  return e === undefined ? undefined : FORMATS.find((f) => f.matches(e));
}

/** Pings from serverless-plugin-warmup, lambda-warmer, Bref and EventBridge schedules. */
export function isWarmup(event: unknown): boolean {
  const e = obj(event);
  if (e === undefined) return false;
  return (
    e.warmer === true ||
    e.warmup === true ||
    e.source === 'serverless-plugin-warmup' ||
    (e.source === 'aws.events' && e['detail-type'] === 'Scheduled Event')
  );
}

/** What little can be read from an event too malformed to become a request, for its 400 and log line. */
export function sketchRequest(event: Record<string, unknown>): { method: string; uri: string; remoteAddr: string } {
  const ctx = obj(event.requestContext);
  const http = obj(ctx?.http);
  const method = [event.httpMethod, http?.method].find((m) => typeof m === 'string') as string | undefined;
  const uri = [event.rawPath, event.path].find((p) => typeof p === 'string') as string | undefined;
  const ip = [http?.sourceIp, obj(ctx?.identity)?.sourceIp].find((a) => typeof a === 'string') as string | undefined;
  return { method: method?.toUpperCase() ?? '-', uri: uri ?? '-', remoteAddr: ip ?? '-' };
}

/** Names what an unsupported event looks like, for the invocation error. */
export function describeEvent(event: unknown): string {
  if (event === null || typeof event !== 'object') return `a ${event === null ? 'null' : typeof event} value`;
  if (Array.isArray(event)) return `an array of ${event.length} items`;
  const e = event as Record<string, unknown>;
  const record = obj(Array.isArray(e.Records) ? e.Records[0] : undefined);
  const source = record?.eventSource ?? record?.EventSource ?? e.source;
  const keys = Object.keys(e).slice(0, 8).join(', ');
  return `${typeof source === 'string' ? `a "${source}" event` : 'an object'} with keys [${keys}]`;
}
