import { lstatSync, realpathSync, statSync, type Stats } from 'node:fs';
import { basename, extname } from 'node:path';
import type { Config } from './config';
import { servedWritableReal } from './writable';

export type Route =
  | {
      kind: 'script';
      /** Absolute, symlink-free path of the program. */
      file: string;
      stats: Stats;
      /** Decoded URL path of the script below the base path: SCRIPT_NAME without the stage. */
      scriptName: string;
      /** Decoded rest of the path after the script, '' when there is none. */
      pathInfo: string;
      nph: boolean;
    }
  | { kind: 'static'; file: string; stats: Stats }
  /** A directory asked for without its trailing slash: the browser is sent to `path`. */
  | { kind: 'slash'; path: string }
  | { kind: 'error'; status: 400 | 403 | 404; why: string };

const NO_INDEX = 'directory has no index script';
const fail = (status: 400 | 403 | 404, why: string): Route => ({ kind: 'error', status, why });

/**
 * Splits an encoded path into decoded segments, refusing anything that could
 * climb out of a root or confuse a script before a single file is looked at.
 */
function decodeSegments(path: string): string[] | Route {
  const raw = path.split('/').slice(1);
  const out: string[] = [];
  for (const seg of raw) {
    let s = seg;
    if (seg.includes('%')) {
      try {
        s = decodeURIComponent(seg);
      } catch {
        return fail(400, `malformed percent-encoding in path segment "${seg}"`);
      }
    }
    if (s === '.' || s === '..') return fail(403, `dot segment in path`);
    if (s.includes('\0')) return fail(403, 'NUL byte in path');
    if (s.includes('\\')) return fail(403, 'backslash in path');
    // Apache's AllowEncodedSlashes Off: an encoded '/' is refused, not treated as a separator.
    if (s.includes('/')) return fail(404, 'encoded slash in path');
    out.push(s);
  }
  return out;
}

function statOrUndefined(path: string, follow = true): Stats | undefined {
  try {
    return (follow ? statSync : lstatSync)(path, { throwIfNoEntry: false });
  } catch {
    // ENOTDIR, ENAMETOOLONG, ELOOP, EACCES: nothing servable lives there.
    return undefined;
  }
}

function realInside(file: string, rootReal: string): string | undefined {
  let real: string;
  try {
    real = realpathSync.native(file);
  } catch {
    return undefined;
  }
  return real === rootReal || real.startsWith(rootReal + '/') ? real : undefined;
}

/**
 * Stats one step of a walk without following links. A path built from a real
 * root through plain entries is its own real path; only a symlink on the way
 * costs a realpath, which tells whether it stays inside the root.
 */
function step(path: string, rootReal: string, linked: boolean): { stats?: Stats; linked: boolean; outside?: true } {
  const own = statOrUndefined(path, false);
  if (own === undefined || !own.isSymbolicLink()) return { stats: own, linked };
  if (realInside(path, rootReal) === undefined) return { linked: true, outside: true };
  return { stats: statOrUndefined(path), linked: true };
}

function isRunnable(config: Config, file: string, stats: Stats): boolean {
  return (stats.mode & 0o111) !== 0 || config.interpreterByExt.has(extname(file).toLowerCase());
}

function scriptRoute(
  config: Config,
  file: string,
  stats: Stats,
  scriptName: string,
  rest: string[],
  linked = true,
): Route {
  const real = linked ? realInside(file, config.rootReal) : file;
  if (real === undefined) return fail(403, 'script resolves outside CGI_ROOT');
  if (!stats.isFile()) return fail(403, 'not a regular file');
  if (!isRunnable(config, real, stats)) return fail(403, 'script is not executable');
  return {
    kind: 'script',
    file: real,
    stats,
    scriptName,
    pathInfo: rest.length === 0 ? '' : '/' + rest.join('/'),
    nph: basename(scriptName).startsWith('nph-'),
  };
}

/** Strips the URL prefix; returns the segments below it, or undefined when the path is elsewhere. */
function belowPrefix(prefixSegs: string[], segs: string[]): string[] | undefined {
  let i = 0;
  for (const p of prefixSegs) {
    while (segs[i] === '' && i < segs.length - 1) i++;
    if (segs[i] !== p) return undefined;
    i++;
  }
  return segs.slice(i);
}

/**
 * Walks the segments below the prefix as Apache does: directories are entered,
 * the first regular file is the script and what follows is PATH_INFO.
 */
function walkScripts(config: Config, below: string[], urlBase: string, path: string): Route {
  if (config.rootIsFile) {
    return scriptRoute(config, config.rootReal, statSync(config.rootReal), config.prefix, below);
  }
  let dir = config.rootReal;
  let scriptName = urlBase;
  let linked = false;
  for (let i = 0; i < below.length; i++) {
    const seg = below[i];
    if (seg === '') {
      if (i === below.length - 1) break;
      continue;
    }
    if (seg.startsWith('.')) return fail(403, 'dotfile in path');
    const candidate = `${dir}/${seg}`;
    const found = step(candidate, config.rootReal, linked);
    if (found.outside) return fail(403, 'path resolves outside CGI_ROOT');
    const stats = found.stats;
    if (stats === undefined) return fail(404, 'no such file');
    linked = found.linked;
    scriptName += '/' + seg;
    if (stats.isDirectory()) {
      dir = candidate;
      continue;
    }
    return scriptRoute(config, candidate, stats, scriptName, below.slice(i + 1), linked);
  }
  if (!path.endsWith('/') && config.directorySlash) return { kind: 'slash', path: path + '/' };
  for (const name of config.indexNames) {
    const candidate = `${dir}/${name}`;
    const stats = statOrUndefined(candidate);
    if (stats?.isFile()) return scriptRoute(config, candidate, stats, `${scriptName}/${name}`, []);
  }
  return fail(403, NO_INDEX);
}

const STATIC_INDEX = ['index.html', 'index.htm'];

function walkStatic(config: Config, segs: string[], path: string): Route {
  const rootReal = config.documentRootReal;
  if (!config.serveStatic || rootReal === undefined) return fail(404, 'outside CGI_PREFIX');
  const parts = segs.filter((s) => s !== '');
  if (parts.some((s) => s.startsWith('.'))) return fail(403, 'dotfile in path');
  let file = parts.length === 0 ? rootReal : `${rootReal}/${parts.join('/')}`;
  let stats = statOrUndefined(file);
  if (stats?.isDirectory()) {
    if (!path.endsWith('/') && config.directorySlash) return { kind: 'slash', path: path + '/' };
    const dir = file;
    stats = undefined;
    for (const name of STATIC_INDEX) {
      const candidate = statOrUndefined(`${dir}/${name}`);
      if (candidate?.isFile()) {
        file = `${dir}/${name}`;
        stats = candidate;
        break;
      }
    }
    if (stats === undefined) return fail(403, 'directory has no index.html');
  }
  if (stats === undefined) return fail(404, 'no such file');
  if (!stats.isFile()) return fail(403, 'not a regular file');
  const real = realInside(file, rootReal) ?? servedWritableReal(config, file);
  if (real === undefined) return fail(403, 'file resolves outside CGI_DOCUMENT_ROOT');
  return { kind: 'static', file: real, stats };
}

/** Maps an encoded request path (stage already removed) to what serves it. */
export function resolveRoute(config: Config, path: string): Route {
  if (path === '') return config.directorySlash ? { kind: 'slash', path: '/' } : resolveRoute(config, '/');
  if (!path.startsWith('/')) return fail(400, 'path does not start with "/"');
  const segs = decodeSegments(path);
  if (!Array.isArray(segs)) return segs;
  const prefixSegs = config.prefix === '' ? [] : config.prefix.slice(1).split('/');
  const below = belowPrefix(prefixSegs, segs);
  if (below === undefined) return walkStatic(config, segs, path);
  if (below.length === 0 && !config.rootIsFile && config.directorySlash) return { kind: 'slash', path: path + '/' };
  const route = walkScripts(config, below, config.prefix, path);
  // At the site root, a URL no script claims may still name a static file (e.g. /style.css).
  if (config.prefix === '' && route.kind === 'error' && (route.status === 404 || route.why === NO_INDEX)) {
    const file = walkStatic(config, segs, path);
    if (file.kind !== 'error') return file;
  }
  return route;
}
