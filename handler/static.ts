import { readFileSync, type Stats } from 'node:fs';
import { extname } from 'node:path';
import { firstHeader, type HttpRequest, type HttpResponse } from './request';
import { errorResponse } from './status';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.htm': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8', '.csv': 'text/csv; charset=utf-8', '.xml': 'application/xml',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.gif': 'image/gif', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg',
  '.webp': 'image/webp', '.ico': 'image/x-icon', '.pdf': 'application/pdf', '.zip': 'application/zip',
  '.woff': 'font/woff', '.woff2': 'font/woff2', '.ttf': 'font/ttf', '.mp3': 'audio/mpeg', '.mp4': 'video/mp4',
  '.wasm': 'application/wasm', '.map': 'application/json',
};

export function contentTypeFor(file: string): string {
  return TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/** A file from the document root, with the caching headers browsers revalidate with. */
export function serveStatic(req: HttpRequest, file: string, stats: Stats): HttpResponse {
  if (req.method !== 'GET' && req.method !== 'HEAD') return errorResponse(405, [['Allow', 'GET, HEAD']]);
  const modified = new Date(Math.floor(stats.mtimeMs / 1000) * 1000);
  const headers: Array<[string, string]> = [
    ['Content-Type', contentTypeFor(file)],
    ['Last-Modified', modified.toUTCString()],
  ];
  const since = Date.parse(firstHeader(req, 'if-modified-since') ?? '');
  if (!Number.isNaN(since) && modified.getTime() <= since) {
    return { status: 304, reason: 'Not Modified', headers, body: Buffer.alloc(0) };
  }
  const body = req.method === 'HEAD' ? Buffer.alloc(0) : readFileSync(file);
  headers.push(['Content-Length', String(stats.size)]);
  return { status: 200, reason: 'OK', headers, body };
}
