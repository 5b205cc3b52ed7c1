import { isUtf8 } from 'node:buffer';

/** Types that are text whatever their charset label says; anything else goes back base64. */
const TEXT_TYPE =
  /^\s*(?:text\/[^;\s]+|application\/(?:json|javascript|ecmascript|xml|xhtml\+xml|x-www-form-urlencoded|x-javascript|[^;\s]+\+(?:json|xml))|image\/svg\+xml)\s*(?:;|$)/i;

export function isTextType(contentType: string | undefined): boolean {
  return contentType !== undefined && TEXT_TYPE.test(contentType);
}

/**
 * A body as a proxy result carries it: text stays a string when it is valid
 * UTF-8 (CGI.pm labels pages ISO-8859-1 that are plain ASCII), everything else
 * is base64 so that every byte survives.
 */
export function encodeBody(
  body: Buffer,
  contentType: string | undefined,
  contentEncoding: string | undefined,
): { body: string; isBase64Encoded: boolean } {
  if (body.length === 0) return { body: '', isBase64Encoded: false };
  if (contentEncoding === undefined && isTextType(contentType) && isUtf8(body)) {
    return { body: body.toString('utf8'), isBase64Encoded: false };
  }
  return { body: body.toString('base64'), isBase64Encoded: true };
}

/** Decodes a proxy event body; undefined when it claims base64 but is not. */
export function decodeBody(body: unknown, isBase64Encoded: unknown): Buffer | undefined {
  if (body === null || body === undefined || body === '') return Buffer.alloc(0);
  if (typeof body !== 'string') return undefined;
  if (isBase64Encoded !== true) return Buffer.from(body, 'utf8');
  const compact = body.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) return undefined;
  return Buffer.from(compact, 'base64');
}
