/**
 * What the site's configuration says about an answer's headers: the type,
 * charset and encoding of a static file (mod_mime), Header rules (mod_headers)
 * and Expires/Cache-Control (mod_expires). Every call into static.ts is here.
 */
import { basename } from 'node:path';
import type { Stats } from 'node:fs';
import type { HttpRequest, HttpResponse } from '../request';
import * as files from '../static';
import type { DirConfig, ExpiresRule, HeaderRule } from './directives';

type StaticModule = {
  mimeTypeFor?: (file: string) => string | undefined;
  contentTypeFor?: (file: string) => string;
  serveStatic: (req: HttpRequest, file: string, stats: Stats, opts?: { contentType?: string; contentEncoding?: string }) => HttpResponse;
  directoryListing?: (req: HttpRequest, dir: string, urlPath: string) => HttpResponse;
};
// Until static.ts has its MIME database: its older table, without the charset it used to force.
const statics = files as unknown as StaticModule;
function mimeTypeFor(file: string): string | undefined {
  if (statics.mimeTypeFor !== undefined) return statics.mimeTypeFor(file);
  const t = statics.contentTypeFor?.(file).split(';')[0];
  return t === 'application/octet-stream' ? undefined : t;
}

export interface FileContent {
  contentType?: string;
  contentEncoding?: string;
}

/** mod_mime's reading of a file name: every extension counts, type from the last one that has one. */
export function contentFor(conf: DirConfig, file: string): FileContent {
  const name = basename(file);
  const exts = name.split('.').slice(1).map((e) => e.toLowerCase());
  let type: string | undefined;
  let charset: string | undefined;
  let encoding: string | undefined;
  let bare = name;
  for (const e of exts) {
    type = conf.types.get(e) ?? type;
    charset = conf.charsets.get(e) ?? charset;
    const enc = conf.encodings.get(e);
    if (enc !== undefined) {
      encoding = enc;
      bare = bare.slice(0, -(e.length + 1));
    }
  }
  type = conf.forceType ?? type ?? mimeTypeFor(encoding === undefined ? file : bare) ?? conf.defaultType;
  if (type === undefined) return { contentEncoding: encoding };
  if (!/;\s*charset=/i.test(type)) {
    const base = type.toLowerCase();
    const cs = charset ?? (base === 'text/html' || base === 'text/plain' ? conf.defaultCharset : undefined);
    if (cs !== undefined) type += `; charset=${cs}`;
  }
  return { contentType: type, contentEncoding: encoding };
}

/** A static file with the type the site decided. */
export function serveFile(conf: DirConfig, req: HttpRequest, file: string, stats: Stats): HttpResponse {
  const content = contentFor(conf, file);
  const res = statics.serveStatic(req, file, stats, content);
  if (res.status >= 400) return res;
  // An older serveStatic ignores the options: the decision is applied to its answer here.
  const headers = res.headers.filter(([n]) => !/^content-(type|encoding)$/i.test(n));
  if (content.contentType !== undefined) headers.unshift(['Content-Type', content.contentType]);
  if (content.contentEncoding !== undefined) headers.push(['Content-Encoding', content.contentEncoding]);
  return { ...res, headers };
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Options +Indexes: static.ts's listing, or a plain one until it has its own. */
export function listDirectory(req: HttpRequest, dir: string, urlPath: string): HttpResponse {
  if (statics.directoryListing !== undefined) return statics.directoryListing(req, dir, urlPath);
  const { readdirSync } = require('node:fs') as typeof import('node:fs');
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((d) => !d.name.startsWith('.'))
    .map((d) => (d.isDirectory() ? d.name + '/' : d.name))
    .sort();
  const title = escapeHtml(`Index of ${urlPath}`);
  const items = names.map((n) => `<li><a href="${escapeHtml(encodeURIComponent(n.replace(/\/$/, '')) + (n.endsWith('/') ? '/' : ''))}">${escapeHtml(n)}</a></li>`);
  const html = `<!DOCTYPE html>\n<html><head><title>${title}</title></head><body><h1>${title}</h1><ul>${items.join('')}</ul></body></html>\n`;
  const body = Buffer.from(html);
  return { status: 200, reason: 'OK', headers: [['Content-Type', 'text/html']], body: req.method === 'HEAD' ? Buffer.alloc(0) : body };
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
