/**
 * Conditional requests (RFC 9110 §13) as Apache's ap_meets_conditions
 * evaluates them, for static files and for scripts' own validators alike.
 */
import { firstHeader, type HttpRequest } from '../request';

/** What the answer says about itself: its entity tag and Last-Modified time (seconds). */
export interface Validators {
  etag?: string;
  lastModified?: number;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
// IMF-fixdate, RFC 850 and asctime: the three forms an HTTP date may take (RFC 9110 §5.6.7).
const TIME = '(\\d{2}:\\d{2}:\\d{2})';
const IMF = new RegExp(`^[A-Za-z]{3}, (\\d{2}) ([A-Za-z]{3}) (\\d{4}) ${TIME} GMT$`);
const RFC850 = new RegExp(`^[A-Za-z]+, (\\d{2})-([A-Za-z]{3})-(\\d{2}) ${TIME} GMT$`);
const ASCTIME = new RegExp(`^[A-Za-z]{3} ([A-Za-z]{3}) ([ \\d]\\d) ${TIME} (\\d{4})$`);

type DateParts = [day: string, month: string, year: number, time: string];

function dateParts(s: string): DateParts | undefined {
  let d: RegExpExecArray | null;
  if ((d = IMF.exec(s))) return [d[1], d[2], Number(d[3]), d[4]];
  // Two-digit RFC 850 years: below 70 is this century, as Apache's apr_date_parse_http reads them.
  if ((d = RFC850.exec(s))) return [d[1], d[2], Number(d[3]) + (Number(d[3]) < 70 ? 2000 : 1900), d[4]];
  if ((d = ASCTIME.exec(s))) return [d[2].trim(), d[1], Number(d[4]), d[3]];
  return undefined;
}

/** An HTTP date in seconds since the epoch, or undefined when it is not one (then it is ignored). */
export function parseHttpDate(value: string | undefined): number | undefined {
  const parts = value === undefined ? undefined : dateParts(value.trim());
  if (parts === undefined) return undefined;
  const [day, mon, year, time] = parts;
  const month = MONTHS.indexOf(mon.toLowerCase());
  const [h, m, sec] = time.split(':').map(Number);
  if (month < 0 || h > 23 || m > 59 || sec > 60) return undefined;
  const ms = Date.UTC(year, month, Number(day), h, m, sec);
  if (new Date(ms).getUTCDate() !== Number(day)) return undefined;
  return ms / 1000;
}

export function formatHttpDate(seconds: number): string {
  return new Date(seconds * 1000).toUTCString();
}

interface EntityTag {
  weak: boolean;
  opaque: string;
}

function parseTag(s: string): EntityTag | undefined {
  const weak = s.startsWith('W/');
  const opaque = weak ? s.slice(2) : s;
  if (opaque.length < 2 || opaque[0] !== '"' || opaque[opaque.length - 1] !== '"') return undefined;
  return { weak, opaque };
}

/** An If-Match / If-None-Match list; '*' is returned as such. */
function parseTagList(value: string): EntityTag[] | '*' {
  if (value.trim() === '*') return '*';
  const tags: EntityTag[] = [];
  // Entity tags may hold commas inside their quotes, so they are matched, not split.
  for (const m of value.matchAll(/(?:W\/)?"[^"]*"/g)) {
    const tag = parseTag(m[0]);
    if (tag !== undefined) tags.push(tag);
  }
  return tags;
}

/** RFC 9110 §8.8.3.2: strong comparison needs both tags strong; weak comparison only the opaque parts. */
function matches(list: EntityTag[] | '*', etag: string | undefined, strong: boolean): boolean {
  if (list === '*') return true;
  const ours = etag === undefined ? undefined : parseTag(etag.trim());
  if (ours === undefined) return false;
  return list.some((t) => t.opaque === ours.opaque && (!strong || (!t.weak && !ours.weak)));
}

/** A Last-Modified date this close to the answer's own time may hide a second change: Apache's 60 s rule (RFC 9110 §8.8.2.2). */
function strongDate(lastModified: number, now: number): boolean {
  return now >= lastModified + 60;
}

export type Verdict = 'proceed' | 'not-modified' | 'precondition-failed';

/**
 * RFC 9110 §13.2.2 in its order, with Apache's details: If-Match compares
 * strongly; If-None-Match weakly for GET/HEAD, strongly when a Range is asked
 * for; If-Modified-Since is ignored when If-None-Match is present, and a
 * date in the future does not match; with a Range, a Last-Modified under a
 * minute old is too weak to answer 304. An answer without Last-Modified is
 * treated as modified now, as Apache treats it.
 */
export function evaluateConditions(req: HttpRequest, v: Validators, now: number): Verdict {
  const get = req.method === 'GET' || req.method === 'HEAD';
  const mtime = v.lastModified ?? now;
  const ranged = firstHeader(req, 'range') !== undefined;

  const ifMatch = firstHeader(req, 'if-match');
  if (ifMatch !== undefined) {
    if (!matches(parseTagList(ifMatch), v.etag, true)) return 'precondition-failed';
  } else {
    const ius = parseHttpDate(firstHeader(req, 'if-unmodified-since'));
    if (ius !== undefined && mtime > ius) return 'precondition-failed';
  }

  const ifNoneMatch = firstHeader(req, 'if-none-match');
  if (ifNoneMatch !== undefined) {
    if (!matches(parseTagList(ifNoneMatch), v.etag, ranged || !get)) return 'proceed';
    return get ? 'not-modified' : 'precondition-failed';
  }
  if (!get) return 'proceed';
  const ims = parseHttpDate(firstHeader(req, 'if-modified-since'));
  if (ims === undefined || ims < mtime || ims > now) return 'proceed';
  if (ranged && !strongDate(mtime, now)) return 'proceed';
  return 'not-modified';
}

/**
 * Whether a Range request may be answered in part (RFC 9110 §13.1.5): without
 * If-Range always; with it, only when it names our current strong ETag, or
 * our Last-Modified date when that date is strong.
 */
export function ifRangeAllows(req: HttpRequest, v: Validators, now: number): boolean {
  const ifRange = firstHeader(req, 'if-range')?.trim();
  if (ifRange === undefined) return true;
  if (ifRange.startsWith('"') || ifRange.startsWith('W/')) {
    return v.etag !== undefined && !v.etag.startsWith('W/') && ifRange === v.etag;
  }
  const date = parseHttpDate(ifRange);
  return date !== undefined && v.lastModified !== undefined && date === v.lastModified && strongDate(v.lastModified, now);
}
