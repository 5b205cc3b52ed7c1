import { readdirSync, statSync, type Stats } from 'node:fs';
import { encodeChar } from '../events/shared';
import type { HttpRequest, HttpResponse } from '../request';
import { errorResponse } from '../status';
import { refuseMethod } from './methods';

/**
 * What a listing leaves out: dotfiles (`.htaccess`, `.htpasswd`, `.git`),
 * editor backups and version-control droppings, as the IndexIgnore of
 * Apache's default httpd-autoindex.conf does.
 */
const HIDDEN = /^\.|~$|#$|^(?:RCS|CVS)$|,[vt]$/;

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A name as one path segment of a relative link: reserved and non-ASCII characters percent-encoded. */
const encodeSegment = (s: string) => s.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=@]/gu, encodeChar);

/**
 * A plain "Index of" page for a directory, as mod_autoindex writes one
 * without FancyIndexing: names sorted, directories with a trailing slash,
 * links relative (so they work under a stage prefix), a Parent Directory
 * link below the root. `urlPath` is the decoded path the browser asked for.
 */
export function directoryListing(req: HttpRequest, dir: string, urlPath: string): HttpResponse {
  const refused = refuseMethod(req);
  if (refused !== undefined) return refused;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return errorResponse(403);
  }
  const items: string[] = [];
  if (urlPath !== '/' && urlPath !== '') items.push('<li><a href="../"> Parent Directory</a></li>');
  for (const name of names.filter((n) => !HIDDEN.test(n)).sort()) {
    // Followed links count as what they point to; a dangling one is left out.
    const stats = statOrUndefined(`${dir}/${name}`);
    if (stats === undefined) continue;
    const slash = stats.isDirectory() ? '/' : '';
    items.push(`<li><a href="${escapeHtml(encodeSegment(name))}${slash}"> ${escapeHtml(name)}${slash}</a></li>`);
  }
  // Apache titles /docs/ as "Index of /docs".
  const title = `Index of ${escapeHtml(urlPath.replace(/(.)\/+$/, '$1'))}`;
  const html =
    `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">\n<html>\n <head>\n  <title>${title}</title>\n </head>\n` +
    ` <body>\n<h1>${title}</h1>\n<ul>${items.join('\n')}\n</ul>\n</body></html>\n`;
  return {
    status: 200,
    reason: 'OK',
    headers: [['Content-Type', 'text/html;charset=UTF-8']],
    body: Buffer.from(html),
  };
}
