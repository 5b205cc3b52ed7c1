/**
 * Byte ranges (RFC 9110 §14) as Apache's byterange filter selects them: a
 * syntactically bad range set is ignored (whole file), one wholly outside
 * the file is 416, overlapping and adjacent ranges are merged with the one
 * before, and a set asking for more than the file is ignored.
 */
import { randomBytes } from 'node:crypto';

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

/** Apache's MaxRanges, MaxRangeOverlaps and MaxRangeReversals defaults: past them the whole file is sent. */
const MAX_RANGES = 200;
const MAX_OVERLAPS = 20;
const MAX_REVERSALS = 20;
const DIGITS = /^\d+$/;

/**
 * The ranges a `Range` header selects from `size` bytes: 'whole' when it is
 * absent, not `bytes=`, malformed or over a limit; 'unsatisfiable' when no
 * range overlaps the file; otherwise the merged ranges in the order asked.
 */
export function selectRanges(header: string | undefined, size: number): ByteRange[] | 'whole' | 'unsatisfiable' {
  if (header === undefined || !/^bytes=/i.test(header) || size === 0) return 'whole';
  const out: ByteRange[] = [];
  let open: ByteRange | undefined;
  let unsatisfiable = false;
  let overlaps = 0;
  let reversals = 0;
  for (const raw of header.slice(6).split(',')) {
    const spec = raw.trim();
    if (spec === '') continue;
    const dash = spec.indexOf('-');
    if (dash < 0) return 'whole';
    const first = spec.slice(0, dash);
    const last = spec.slice(dash + 1);
    let start: number;
    let end: number;
    if (first === '') {
      // A suffix: the last n bytes.
      if (!DIGITS.test(last) || Number(last) < 1) return 'whole';
      start = Math.max(size - Number(last), 0);
      end = size - 1;
    } else {
      if (!DIGITS.test(first) || (last !== '' && !DIGITS.test(last))) return 'whole';
      start = Number(first);
      end = last === '' ? size - 1 : Number(last);
      if (last !== '' && start > end) return 'whole';
      // `0-` asks for everything, whatever else the header says.
      if (start === 0 && last === '') return [{ start: 0, end: size - 1 }];
    }
    if (start >= size) {
      unsatisfiable = true;
      continue;
    }
    end = Math.min(end, size - 1);
    if (open === undefined) {
      open = { start, end };
      continue;
    }
    let merged = start >= open.start && end <= open.end;
    if (start < open.start && end >= open.start - 1) {
      open.start = start;
      reversals++;
      merged = true;
    }
    if (end >= open.end && start <= open.end + 1) {
      open.end = end;
      merged = true;
    }
    if (merged) {
      overlaps++;
      continue;
    }
    out.push(open);
    open = { start, end };
  }
  if (open !== undefined) out.push(open);
  else if (unsatisfiable) return 'unsatisfiable';
  else return 'whole';
  const total = out.reduce((n, r) => n + r.end - r.start + 1, 0);
  if (total > size || out.length > MAX_RANGES || overlaps > MAX_OVERLAPS || reversals > MAX_REVERSALS) return 'whole';
  return out;
}

export function contentRange(r: ByteRange, size: number): string {
  return `bytes ${r.start}-${r.end}/${size}`;
}

/** A fresh boundary per answer: random, so no file's bytes can hold it by design. */
export function multipartBoundary(): string {
  return randomBytes(12).toString('hex');
}

/**
 * The multipart/byteranges body (RFC 9110 §14.6) around the parts' bytes, in
 * the layout Apache's byterange filter writes.
 */
export function multipartBody(
  parts: Array<{ range: ByteRange; bytes: Buffer }>,
  size: number,
  contentType: string | undefined,
  boundary: string,
): Buffer {
  const chunks: Buffer[] = [];
  for (const { range, bytes } of parts) {
    const type = contentType === undefined ? '' : `Content-Type: ${contentType}\r\n`;
    chunks.push(Buffer.from(`\r\n--${boundary}\r\n${type}Content-Range: ${contentRange(range, size)}\r\n\r\n`), bytes);
  }
  chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}
