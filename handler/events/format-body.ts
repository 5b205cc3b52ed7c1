import { encodeBody } from '../body';
import type { HttpResponse } from '../request';
import { headerValue } from './shared';

/** The body half of every proxy result; HEAD answers carry none. */
export function formatBody(res: HttpResponse, head: boolean): { body: string; isBase64Encoded: boolean } {
  if (head) return { body: '', isBase64Encoded: false };
  return encodeBody(res.body, headerValue(res.headers, 'content-type'), headerValue(res.headers, 'content-encoding'));
}
