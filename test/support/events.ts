/**
 * Builders for the events each front door really sends (see
 * ../shared/notes/aws-event-facts.md): what an HTTP client sent goes in, the
 * event AWS would hand the function comes out. They live in
 * scripts/proxy-events.ts, shared with scripts/invoke.ts; their defaults
 * (request ids, time, domains) are fixed, so a test gets the same event every time.
 */
import type { Event } from '../../scripts/proxy-events';

export { albEvent, functionUrlEvent, httpApiEvent, restEvent, type ClientRequest, type Event } from '../../scripts/proxy-events';

export interface Answer {
  status: number;
  /** Header values by lower-case name; Set-Cookie from whichever field the format uses. */
  headers: Record<string, string[]>;
  body: Buffer;
  raw: Event;
}

/** Reads any proxy result back into one shape, the way the front door would. */
export function answerOf(result: Event): Answer {
  const headers: Record<string, string[]> = {};
  const add = (n: string, v: string) => (headers[n.toLowerCase()] ??= []).push(v);
  for (const [n, v] of Object.entries(result.multiValueHeaders ?? {})) for (const x of v as string[]) add(n, x);
  for (const [n, v] of Object.entries(result.headers ?? {})) add(n, v as string);
  for (const c of result.cookies ?? []) add('set-cookie', c);
  const body = Buffer.from(result.body ?? '', result.isBase64Encoded ? 'base64' : 'utf8');
  return { status: result.statusCode, headers, body, raw: result };
}
