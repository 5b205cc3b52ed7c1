import type { HttpRequest, HttpResponse } from '../request';
import { errorResponse, reasonPhrase } from '../status';

const EMPTY = Buffer.alloc(0);
/** What Apache's default handler answers for a file: POST (a form whose action is a page) gets the page. */
const ALLOW: Array<[string, string]> = [['Allow', 'GET, HEAD, POST, OPTIONS']];
const SERVED = new Set(['GET', 'HEAD', 'POST']);

/** OPTIONS gets the methods, anything else outside SERVED 405: the same rule for files and listings. */
export function refuseMethod(req: HttpRequest): HttpResponse | undefined {
  if (SERVED.has(req.method)) return undefined;
  if (req.method === 'OPTIONS') return { status: 200, reason: reasonPhrase(200), headers: [...ALLOW, ['Content-Length', '0']], body: EMPTY };
  return errorResponse(405, ALLOW);
}
