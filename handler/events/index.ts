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
