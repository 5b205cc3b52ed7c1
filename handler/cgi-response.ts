import { isUtf8 } from 'node:buffer';
import { reasonPhrase } from './status';

/** What a script's output means (RFC 3875 §6): a document to send, or a local redirect to follow. */
export type CgiResponse =
  | {
      kind: 'document';
      status: number;
      reason: string;
      headers: Array<[string, string]>;
      body: Buffer;
      /** The script chose the status itself (a Status header or an nph status line): no 304 may replace it. */
      explicitStatus: boolean;
    }
  | { kind: 'local-redirect'; location: string };

export type ParseResult =
  | { ok: true; response: CgiResponse; warnings: string[] }
  | { ok: false; error: string; warnings: string[] };

export const MAX_HEADER_BLOCK = 64 * 1024;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Control characters other than tab have no place in a header value.
const BAD_VALUE = /[\0-\x08\x0a-\x1f\x7f]/;
/** Connection-level headers a gateway must not forward (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade',
]);

/** Finds the empty line (LF or CRLF) that ends the header block. */
export function findHeaderEnd(out: Buffer): { end: number; bodyStart: number } | 'missing' | 'too-large' {
  let i = 0;
  for (;;) {
    const nl = out.indexOf(0x0a, i);
    if (nl < 0) return out.length > MAX_HEADER_BLOCK ? 'too-large' : 'missing';
    if (nl > MAX_HEADER_BLOCK) return 'too-large';
    const len = nl - i - (nl > i && out[nl - 1] === 0x0d ? 1 : 0);
    if (len === 0) return { end: i, bodyStart: nl + 1 };
    i = nl + 1;
  }
}

/** Header lines, with obs-fold continuations joined and malformed lines dropped (with a warning). */
function headerLines(text: string, warnings: string[]): Array<[string, string]> {
  const lines: Array<[string, string]> = [];
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') continue;
    if (line.includes('\r')) {
      warnings.push(`dropped header line with a bare CR: ${JSON.stringify(line.slice(0, 80))}`);
      continue;
    }
    if (line[0] === ' ' || line[0] === '\t') {
      const last = lines[lines.length - 1];
      if (last === undefined) warnings.push('dropped continuation line before any header');
      else last[1] = `${last[1]} ${line.trim()}`.trim();
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!TOKEN.test(name)) {
      warnings.push(`dropped malformed header line: ${JSON.stringify(line.slice(0, 80))}`);
      continue;
    }
    lines.push([name, line.slice(colon + 1).trim()]);
  }
  return lines.filter(([name, value]) => {
    if (!BAD_VALUE.test(value)) return true;
    warnings.push(`dropped header ${name} with a control character in its value`);
    return false;
  });
}

function parseStatus(value: string): { status: number; reason: string } | undefined {
  const m = /^(\d{3})(?:\s+(.*))?$/.exec(value.trim());
  if (!m) return undefined;
  const status = Number(m[1]);
  if (status < 100 || status > 599) return undefined;
  return { status, reason: m[2]?.trim() || reasonPhrase(status) };
}

export interface ParseOptions {
  /** Non-parsed-header script: the output starts with its own HTTP status line. */
  nph: boolean;
  /** A HEAD request: a script that rightly sent no body keeps its Content-Length. */
  head: boolean;
  /** Only the header block is given (the body is streamed or dropped): Content-Length is not checked. */
  bodyFollows?: boolean;
}

export function parseCgiResponse(out: Buffer, opts: ParseOptions): ParseResult {
  const warnings: string[] = [];
  const fail = (error: string): ParseResult => ({ ok: false, error, warnings });
  if (out.length === 0) return fail('script produced no output');
  const found = findHeaderEnd(out);
  if (found === 'missing') return fail('script output has no blank line after its headers');
  if (found === 'too-large') return fail(`script headers exceed ${MAX_HEADER_BLOCK} bytes`);

  const head = out.subarray(0, found.end);
  let text = head.toString(isUtf8(head) ? 'utf8' : 'latin1');
  const body = out.subarray(found.bodyStart);

  let status: { status: number; reason: string } | undefined;
  let explicitStatus = opts.nph;
  if (opts.nph) {
    const nl = text.indexOf('\n');
    const statusLine = (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, '');
    const m = /^HTTP\/\d(?:\.\d)?\s+(\d{3}(?:\s+.*)?)$/.exec(statusLine);
    status = m ? parseStatus(m[1]) : undefined;
    if (status === undefined) return fail(`nph script sent no valid status line: ${JSON.stringify(statusLine.slice(0, 80))}`);
    text = nl < 0 ? '' : text.slice(nl + 1);
  }

  const headers: Array<[string, string]> = [];
  let location: string | undefined;
  let hasContentType = false;
  let contentLength: [string, string] | undefined;
  for (const header of headerLines(text, warnings)) {
    const lower = header[0].toLowerCase();
    if (HOP_BY_HOP.has(lower)) continue;
    if (!opts.nph && lower === 'status') {
      status = parseStatus(header[1]);
      explicitStatus = true;
      if (status === undefined) return fail(`invalid Status header: ${JSON.stringify(header[1].slice(0, 80))}`);
      continue;
    }
    if (lower === 'location') location = header[1];
    if (lower === 'content-type') hasContentType = true;
    if (lower === 'content-length') contentLength = header;
    headers.push(header);
  }

  if (!opts.nph && location !== undefined && (status === undefined || status.status === 200)) {
    // A path is the server's business (a local redirect); anything else, even '//host', the client's.
    if (location.startsWith('/') && !location.startsWith('//')) {
      return { ok: true, response: { kind: 'local-redirect', location }, warnings };
    }
    status = { status: 302, reason: reasonPhrase(302) };
  }
  if (!opts.nph && !hasContentType && status === undefined) {
    return fail('script response has no Content-Type, Status or Location header');
  }
  if (!opts.bodyFollows && contentLength !== undefined && contentLength[1] !== String(body.length) && !(opts.head && body.length === 0)) {
    warnings.push(`script sent Content-Length ${contentLength[1]} with a body of ${body.length} bytes; corrected`);
    contentLength[1] = String(body.length);
  }
  const { status: code, reason } = status ?? { status: 200, reason: 'OK' };
  return { ok: true, response: { kind: 'document', status: code, reason, headers, body, explicitStatus }, warnings };
}
