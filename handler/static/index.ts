/**
 * Files from the document root as Apache's default handler serves them:
 * the media type from the database (or the site's policy), ETag and
 * Last-Modified, conditional requests, byte ranges, HEAD. Also directory
 * listings and 304s for scripts that send their own validators.
 */
import { closeSync, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { firstHeader, type HttpRequest, type HttpResponse } from '../request';
import { errorResponse, reasonPhrase } from '../status';
import { evaluateConditions, formatHttpDate, ifRangeAllows, parseHttpDate, type Validators } from './conditional';
import { contentRange, multipartBody, multipartBoundary, selectRanges, type ByteRange } from './range';

export { directoryListing } from './listing';
export { extensionsOf, mimeTypeFor, typeForExtension } from './mime';
import { refuseMethod } from './methods';
import { mimeTypeFor } from './mime';

export interface StaticOptions {
  /** The final Content-Type (charset included) the site's policy chose; by default the database's type, no charset. */
  contentType?: string;
  /** Content-Encoding the site's policy (AddEncoding) gives the file. */
  contentEncoding?: string;
  /**
   * Most body bytes the front door can deliver: a larger answer is refused
   * 502 before the file is read (the response's `error` says why).
   */
  maxBodyBytes?: number;
  /** A streaming front door reads the bytes itself: a whole file or single range is named in `bodyFile`, not read. */
  fromDisk?: boolean;
}

const EMPTY = Buffer.alloc(0);

/**
 * The bytes of one range of a file: the single place a static body is read,
 * so that a streaming answer can read the same range from disk instead.
 */
export function readFileRange(file: string | number, start: number, length: number): Buffer {
  const fd = typeof file === 'number' ? file : openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const n = readSync(fd, buf, got, length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    // A file that shrank under us is sent as far as it goes; Content-Length follows the bytes.
    return got === length ? buf : buf.subarray(0, got);
  } finally {
    if (typeof file !== 'number') closeSync(fd);
  }
}

/**
 * Apache's default `FileETag MTime Size`: `"<size>-<mtime in µs>"` in hex,
 * weak when the file changed within the last second (it may change again
 * within the same second, unseen).
 */
export function fileETag(size: bigint, mtimeNs: bigint, nowMs: number): string {
  const mtimeUs = mtimeNs / 1000n;
  const tag = `"${size.toString(16)}-${mtimeUs.toString(16)}"`;
  return BigInt(nowMs) * 1000n - mtimeUs > 1_000_000n ? tag : `W/${tag}`;
}

function tooLarge(file: string, bytes: number, limit: number): HttpResponse {
  return {
    ...errorResponse(502),
    file,
    error: `static file ${file}: ${bytes} bytes to send exceed the ${limit} bytes the front door can deliver; clients can fetch it in parts with Range`,
  };
}

/** A file from the document root: GET, HEAD and POST, with validators, conditionals and ranges. */
export function serveStatic(req: HttpRequest, file: string, stats: Stats, opts: StaticOptions = {}): HttpResponse {
  const refused = refuseMethod(req);
  if (refused !== undefined) return refused;
  if (!stats.isFile()) return errorResponse(403);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return { ...errorResponse(403), file, error: `static file ${file} cannot be opened` };
  }
  try {
    return answerFile(req, file, fd, opts);
  } finally {
    closeSync(fd);
  }
}

function answerFile(req: HttpRequest, file: string, fd: number, opts: StaticOptions): HttpResponse {
  // The open file's own stat: its size and time belong to the bytes we read.
  const st = fstatSync(fd, { bigint: true });
  const size = Number(st.size);
  const nowMs = Date.now();
  const now = Math.floor(nowMs / 1000);
  // Apache's ap_rationalize_mtime: a file dated in the future was last modified now.
  const lastModified = Math.min(Number(st.mtimeMs / 1000n), now);
  const v: Validators = { etag: fileETag(st.size, st.mtimeNs, nowMs), lastModified };
  const type = opts.contentType ?? mimeTypeFor(file);
  const validators: Array<[string, string]> = [
    ['Last-Modified', formatHttpDate(lastModified)],
    ['ETag', v.etag as string],
  ];

  const base: Array<[string, string]> = [...validators, ['Accept-Ranges', 'bytes']];
  const verdict = evaluateConditions(req, v, now);
  if (verdict === 'not-modified') return { status: 304, reason: reasonPhrase(304), headers: base, body: EMPTY, file };
  if (verdict === 'precondition-failed') return { ...errorResponse(412), file };

  const entity: Array<[string, string]> = [];
  if (type !== undefined) entity.push(['Content-Type', type]);
  if (opts.contentEncoding !== undefined) entity.push(['Content-Encoding', opts.contentEncoding]);
  const head = req.method === 'HEAD';
  // A HEAD gets the headers its GET would (RFC 9110 §9.3.2), a 206 included, as Apache answers it.
  const ranges = ifRangeAllows(req, v, now) ? selectRanges(firstHeader(req, 'range'), size) : 'whole';

  if (ranges === 'unsatisfiable') {
    return { ...errorResponse(416, [['Content-Range', `bytes */${size}`]]), file };
  }
  const limit = opts.maxBodyBytes ?? Infinity;
  if (ranges === 'whole') {
    if (!head && size > limit) return tooLarge(file, size, limit);
    if (!head && opts.fromDisk) {
      const headers: Array<[string, string]> = [...base, ...entity, ['Content-Length', String(size)]];
      return { status: 200, reason: 'OK', headers, body: EMPTY, file, bodyFile: { path: file, start: 0, length: size } };
    }
    const body = head ? EMPTY : readFileRange(fd, 0, size);
    const length = head ? size : body.length;
    return { status: 200, reason: 'OK', headers: [...base, ...entity, ['Content-Length', String(length)]], body, file };
  }
  const bytes = ranges.reduce((n, r) => n + r.end - r.start + 1, 0);
  if (!head && bytes > limit) return tooLarge(file, bytes, limit);
  const read = (r: ByteRange) => (head ? EMPTY : readFileRange(fd, r.start, r.end - r.start + 1));
  const partial = (headers: Array<[string, string]>, body: Buffer, length: number): HttpResponse => ({
    status: 206,
    reason: reasonPhrase(206),
    headers: [...base, ...headers, ['Content-Length', String(head ? length : body.length)]],
    body,
    file,
  });
  if (ranges.length === 1) {
    const r = ranges[0];
    const length = r.end - r.start + 1;
    const headers: Array<[string, string]> = [...entity, ['Content-Range', contentRange(r, size)]];
    if (!head && opts.fromDisk) {
      const all: Array<[string, string]> = [...base, ...headers, ['Content-Length', String(length)]];
      return { status: 206, reason: reasonPhrase(206), headers: all, body: EMPTY, file, bodyFile: { path: file, start: r.start, length } };
    }
    return partial(headers, read(r), length);
  }
  const boundary = multipartBoundary();
  const parts = ranges.map((range: ByteRange) => ({ range, bytes: read(range) }));
  const multipart: Array<[string, string]> = [['Content-Type', `multipart/byteranges; boundary=${boundary}`]];
  if (opts.contentEncoding !== undefined) multipart.push(['Content-Encoding', opts.contentEncoding]);
  const body = multipartBody(parts, size, type, boundary);
  // For a HEAD the parts are empty: the length is the body's plus the bytes left out.
  return partial(multipart, head ? EMPTY : body, body.length + (head ? bytes : 0));
}

/** Headers a 304 leaves out: it describes the answer the client has, not a body (RFC 9110 §15.4.5). */
const BODY_HEADERS = new Set(['content-type', 'content-length', 'content-encoding', 'content-language', 'content-range', 'transfer-encoding']);

function header(res: HttpResponse, name: string): string | undefined {
  return res.headers.find(([n]) => n.toLowerCase() === name)?.[1];
}

/**
 * A script's 200 answer that carries its own Last-Modified or ETag, checked
 * against the request's conditionals as Apache's ap_scan_script_header_err
 * does for a GET or HEAD: 304 (the script's headers without the body's) or
 * 412. The caller passes only answers whose script sent no Status header.
 */
export function conditionalAnswer(req: HttpRequest, res: HttpResponse): HttpResponse {
  if (res.status !== 200 || (req.method !== 'GET' && req.method !== 'HEAD')) return res;
  const etag = header(res, 'etag');
  const lastModifiedHeader = header(res, 'last-modified');
  if (etag === undefined && lastModifiedHeader === undefined) return res;
  const now = Math.floor(Date.now() / 1000);
  const parsed = parseHttpDate(lastModifiedHeader);
  const v: Validators = { etag, lastModified: parsed === undefined ? undefined : Math.min(parsed, now) };
  const verdict = evaluateConditions(req, v, now);
  if (verdict === 'proceed') return res;
  if (verdict === 'precondition-failed') return { ...errorResponse(412), script: res.script };
  const headers = res.headers.filter(([n]) => !BODY_HEADERS.has(n.toLowerCase()));
  return { ...res, status: 304, reason: reasonPhrase(304), headers, body: EMPTY };
}
