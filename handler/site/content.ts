/**
 * What the site's configuration says about an answer's headers: the type,
 * charset and encoding of a static file (mod_mime), Header rules (mod_headers)
 * and Expires/Cache-Control (mod_expires). Every call into static/ is here.
 */
import type { Stats } from 'node:fs';
import type { HttpRequest, HttpResponse } from '../request';
import { directoryListing, extensionsOf, serveStatic, typeForExtension } from '../static';
import type { DirConfig, ExpiresRule, HeaderRule } from './directives';

export interface FileContent {
  contentType?: string;
  contentEncoding?: string;
}

/**
 * mod_mime's reading of a file name: every extension counts and the last one
 * with a type wins (AddType before the database); an AddEncoding extension
 * gives the encoding instead, so `a.tar.gz` is a gzip-encoded tar.
 */
export function contentFor(conf: DirConfig, file: string): FileContent {
  let type: string | undefined;
  let charset: string | undefined;
  let encoding: string | undefined;
  for (const e of extensionsOf(file).map((x) => x.toLowerCase())) {
    charset = conf.charsets.get(e) ?? charset;
    const enc = conf.encodings.get(e);
    if (enc !== undefined) encoding = enc;
    type = conf.types.get(e) ?? (enc === undefined ? typeForExtension(e) : undefined) ?? type;
  }
  type = conf.forceType ?? type ?? conf.defaultType;
  if (type === undefined) return { contentEncoding: encoding };
  if (!/;\s*charset=/i.test(type)) {
    const base = type.toLowerCase();
    const cs = charset ?? (base === 'text/html' || base === 'text/plain' ? conf.defaultCharset : undefined);
    if (cs !== undefined) type += `; charset=${cs}`;
  }
  return { contentType: type, contentEncoding: encoding };
}

/** A static file with the type the site decided; the options say what the front door can deliver, and how. */
export function serveFile(
  conf: DirConfig, req: HttpRequest, file: string, stats: Stats,
  opts: { maxBodyBytes: number; fromDisk: boolean },
): HttpResponse {
  return serveStatic(req, file, stats, { ...contentFor(conf, file), ...opts });
}

/** Options +Indexes. */
export function listDirectory(req: HttpRequest, dir: string, urlPath: string): HttpResponse {
  return directoryListing(req, dir, urlPath);
}

function applyHeader(headers: Array<[string, string]>, rule: HeaderRule): Array<[string, string]> {
  const lower = rule.name.toLowerCase();
  const has = headers.filter(([n]) => n.toLowerCase() === lower);
  const others = headers.filter(([n]) => n.toLowerCase() !== lower);
  switch (rule.action) {
    case 'set':
      return [...others, [rule.name, rule.value]];
    case 'unset':
      return others;
    case 'add':
      return [...headers, [rule.name, rule.value]];
    case 'setifempty':
      return has.length > 0 ? headers : [...headers, [rule.name, rule.value]];
    case 'append':
    case 'merge': {
      if (has.length === 0) return [...headers, [rule.name, rule.value]];
      const values = has.map(([, v]) => v);
      const tokens = values.join(',').split(',').map((t) => t.trim());
      if (rule.action === 'merge' && tokens.includes(rule.value)) return headers;
      return [...others, [has[0][0], [...values, rule.value].join(', ')]];
    }
  }
}

function headerValue(res: HttpResponse, name: string): string | undefined {
  return res.headers.find(([n]) => n.toLowerCase() === name)?.[1];
}

function expiresRule(conf: DirConfig, res: HttpResponse): ExpiresRule | undefined {
  const type = headerValue(res, 'content-type')?.split(';')[0].trim().toLowerCase();
  if (type !== undefined) {
    const exact = conf.expiresByType.get(type) ?? conf.expiresByType.get(type.split('/')[0] + '/*');
    if (exact !== undefined) return exact;
  }
  return conf.expiresDefault;
}

/** Adds what mod_expires and mod_headers would to a finished answer. */
export function finishHeaders(conf: DirConfig, res: HttpResponse): HttpResponse {
  let headers = res.headers;
  const ok = res.status < 400;
  if (conf.expiresActive && (res.status === 200 || res.status === 206 || res.status === 304) && headerValue(res, 'expires') === undefined) {
    const rule = expiresRule(conf, res);
    const modified = Date.parse(headerValue(res, 'last-modified') ?? '');
    const base = rule?.base === 'M' ? modified : Date.now();
    if (rule !== undefined && !Number.isNaN(base)) {
      const expires = base + rule.seconds * 1000;
      const maxAge = Math.max(0, Math.floor((expires - Date.now()) / 1000));
      const isCacheControl = ([n]: [string, string]) => n.toLowerCase() === 'cache-control';
      // Apache merges max-age into what Cache-Control already says, replacing an older max-age.
      const directives = headers.filter(isCacheControl).flatMap(([, v]) => v.split(','))
        .map((t) => t.trim()).filter((t) => t !== '' && !/^max-age=/i.test(t));
      headers = [
        ...headers.filter((h) => !isCacheControl(h)),
        ['Cache-Control', [...directives, `max-age=${maxAge}`].join(', ')],
        ['Expires', new Date(expires).toUTCString()],
      ];
    }
  }
  for (const rule of conf.headers) if (rule.always || ok) headers = applyHeader(headers, rule);
  return headers === res.headers ? res : { ...res, headers };
}
