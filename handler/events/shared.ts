import { requestBody, type RequestBody } from '../body';
import type { HttpRequest, HttpResponse } from '../request';

/** An event that has an HTTP front door's shape but cannot be a valid request: answered 400. */
export class BadEventError extends Error {}

/** One front door: how to recognise its events, read them, and answer in kind. */
export interface EventFormat {
  name: string;
  /** Largest proxy result, in bytes of JSON, the front door accepts. */
  maxPayloadBytes: number;
  matches(event: Record<string, unknown>): boolean;
  toRequest(event: Record<string, unknown>): HttpRequest;
  toResult(
    res: HttpResponse,
    event: Record<string, unknown>,
    head: boolean,
    warn: (message: string) => void,
  ): Record<string, unknown>;
}

export const MB = 1024 * 1024;
export const EXECUTE_API_HOST = /\.execute-api\.[a-z0-9-]+\.amazonaws\.com$/;

type Loose = Record<string, unknown>;

export function obj(value: unknown): Loose | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Loose) : undefined;
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;

export function requireMethod(value: unknown): string {
  if (typeof value !== 'string' || !METHOD.test(value)) throw new BadEventError('missing or invalid HTTP method');
  return value.toUpperCase();
}

export function requireBody(event: Record<string, unknown>): RequestBody {
  const body = requestBody(event.body, event.isBase64Encoded);
  if (body === undefined) throw new BadEventError('body is not valid base64');
  return body;
}

export function requirePath(value: unknown): string {
  // serverless-offline sends the root of a REST stage as "".
  if (value === '') return '/';
  if (typeof value !== 'string' || !value.startsWith('/')) throw new BadEventError('missing or invalid path');
  return value;
}

function addHeader(out: Record<string, string[]>, name: string, value: unknown): void {
  if (typeof value !== 'string') {
    if (typeof value === 'number' || typeof value === 'boolean') value = String(value);
    else return;
  }
  const key = name.toLowerCase();
  (out[key] ??= []).push(value as string);
}

/** Request headers by lower-case name, from the multi-value map when the event has one. */
export function readHeaders(multi: unknown, single: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const m = obj(multi);
  if (m !== undefined) {
    for (const name in m) {
      const values = m[name];
      if (Array.isArray(values)) for (const v of values) addHeader(out, name, v);
      else addHeader(out, name, values);
    }
    return out;
  }
  const s = obj(single);
  if (s !== undefined) for (const name in s) addHeader(out, name, s[name]);
  return out;
}

/**
 * Encodes what a decoded query key or value must not carry raw. A space becomes
 * '+' and a literal '+' is escaped (API Gateway decodes both to what they mean);
 * ';', '/', ':', '@', ',', '$' and '?' stay literal, as legacy scripts wrote them.
 */
function encodeQueryPart(s: string): string {
  return encodeURIComponent(s)
    .replace(/%20/g, '+')
    .replace(/%(2C|3B|2F|3A|40|24|3F)/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** What HTML form field names are made of in practice: `name`, `item[0]`, `a.b`, `x-y`, `prénom`. */
const FIELD_NAME = /^[\p{L}\p{N}_.:\[\]-]+$/u;

function decodedKey(key: string, alreadyEncoded: boolean): string {
  if (!alreadyEncoded) return key;
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return key;
  }
}

/**
 * API Gateway and ALB map both `?words=` and `?words` to `{words: [""]}`. An
 * empty form field is far more common than an ISINDEX search, so an empty value
 * is rebuilt as `key=`, unless the whole query is one key that no form field
 * would be named (a space, `+`, `,` ...): only an ISINDEX search looks like that.
 */
function isindexOnly(params: Record<string, unknown>, alreadyEncoded: boolean): boolean {
  const keys = Object.keys(params);
  if (keys.length !== 1) return false;
  const raw = params[keys[0]];
  const values = Array.isArray(raw) ? raw : [raw];
  return values.length === 1 && values[0] === '' && !FIELD_NAME.test(decodedKey(keys[0], alreadyEncoded));
}

/**
 * serverless-offline's HTTP API rawQueryString is URLSearchParams' serialisation,
 * which writes `?perl+cgi` as `perl+cgi=`: the same rule undoes it.
 */
export function offlineRawQuery(query: string): string {
  const m = /^([^&=]+)=$/.exec(query);
  return m !== null && isindexOnly({ [m[1]]: '' }, true) ? m[1] : query;
}

/**
 * Rebuilds a query string from the parameter maps of v1 and ALB events.
 * Decoded maps (API Gateway) are re-encoded; ALB's values arrive still encoded
 * and are joined as they are. Empty values follow isindexOnly().
 */
export function rebuildQuery(multi: unknown, single: unknown, alreadyEncoded: boolean): string {
  const params = obj(multi) ?? obj(single);
  if (params === undefined) return '';
  const encKey = alreadyEncoded ? (s: string) => s : encodeQueryPart;
  // A value keeps its '=' literal, as sent: `p=a;b=c` must stay readable as two pairs.
  const encValue = alreadyEncoded ? (s: string) => s : (s: string) => encodeQueryPart(s).replace(/%3D/g, '=');
  const bare = isindexOnly(params, alreadyEncoded);
  const parts: string[] = [];
  for (const key in params) {
    const raw = params[key];
    const values = Array.isArray(raw) ? raw : [raw];
    for (const v of values) {
      if (typeof v !== 'string') continue;
      parts.push(bare ? encKey(key) : `${encKey(key)}=${encValue(v)}`);
    }
  }
  return parts.join('&');
}

/** encodeURIComponent, with a lone UTF-16 surrogate (no character at all) as U+FFFD. */
export function encodeChar(c: string): string {
  try {
    return encodeURIComponent(c);
  } catch {
    return '%EF%BF%BD';
  }
}

/** Percent-encodes a path that a front door already decoded, so routing sees one form only. */
export function encodePath(decoded: string): string {
  return decoded.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/]/gu, encodeChar);
}

/**
 * The same form from a path that arrives still encoded (serverless-offline's
 * WHATWG pathname leaves `|`, `[`, `^` and the like raw): existing escapes kept,
 * what encodePath would escape escaped.
 */
export function reencodePath(encoded: string): string {
  return encoded.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]/gu, encodeChar);
}

/**
 * serverless-offline fills requestContext with placeholders; its events need
 * a few of its quirks undone (plain http, a stage it leaves out of the path).
 */
export function fromOffline(ctx: Record<string, unknown>): boolean {
  return ctx.domainName === 'offlineContext_domainName';
}

export function schemeOf(headers: Record<string, string[]>, fallback: 'http' | 'https'): 'http' | 'https' {
  const proto = headers['x-forwarded-proto']?.[0]?.split(',')[0].trim().toLowerCase();
  return proto === 'http' || proto === 'https' ? proto : fallback;
}

/** The caller an authorizer vouched for, named the way scripts expect REMOTE_USER. */
export function authFrom(
  headers: Record<string, string[]>,
  user: unknown,
  kind: string,
): { user: string; type: string } | undefined {
  // serverless-offline's placeholders (offlineContext_...) identify nobody.
  if (typeof user !== 'string' || user === '' || user.startsWith('offlineContext_')) return undefined;
  const scheme = headers.authorization?.[0]?.split(' ')[0];
  return { user, type: scheme && /^[A-Za-z0-9-]+$/.test(scheme) ? scheme : kind };
}

export function claimUser(claims: unknown): string | undefined {
  const c = obj(claims);
  if (c === undefined) return undefined;
  for (const k of ['cognito:username', 'username', 'preferred_username', 'email', 'sub']) {
    if (typeof c[k] === 'string' && c[k] !== '') return c[k] as string;
  }
  return undefined;
}

/** Response headers as single strings: repeated ones joined with ', ' (RFC 9110 §5.3). */
export function singleHeaders(headers: Array<[string, string]>, skip?: string): Record<string, string> {
  const out: Record<string, string> = {};
  const seen: Record<string, string> = {};
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower === skip) continue;
    const first = seen[lower];
    if (first === undefined) {
      seen[lower] = name;
      out[name] = value;
    } else out[first] = `${out[first]}, ${value}`;
  }
  return out;
}

export function multiHeaders(headers: Array<[string, string]>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const seen: Record<string, string> = {};
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    const first = (seen[lower] ??= name);
    (out[first] ??= []).push(value);
  }
  return out;
}

/** The Set-Cookie lines of a response, which no front door lets us comma-join. */
export function setCookies(headers: Array<[string, string]>): Array<[string, string]> {
  return headers.filter(([n]) => n.toLowerCase() === 'set-cookie');
}

export function headerValue(headers: Array<[string, string]>, name: string): string | undefined {
  for (const [n, v] of headers) if (n.toLowerCase() === name) return v;
  return undefined;
}
