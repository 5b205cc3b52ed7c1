import { lstatSync, realpathSync, statSync, type Stats } from 'node:fs';
import { basename, extname } from 'node:path';
import type { Config } from './config';
import { servedWritableDirs } from './writable';

/** One URL prefix mapped onto a directory: a ScriptAlias (everything runs) or a document tree. */
export interface Tree {
  kind: 'script' | 'static';
  /** URL path it is served under, '' for the site root. Never ends in '/'. */
  url: string;
  /** Real path of the directory, or of the one program that serves every URL under `url`. */
  root: string;
  isFile?: boolean;
}

/** Where in the file system a route ended: the site policy reads the configuration of `dir`. */
export interface Place {
  tree: Tree;
  /** Real path of the deepest directory reached. */
  dir: string;
  /** The file asked for (or the missing name), for <Files> sections. */
  name?: string;
}

export type Route = (
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
  /** A directory with no index file whose configuration allows a listing. */
  | { kind: 'listing'; dir: string; urlPath: string }
  /** A directory asked for without its trailing slash: the browser is sent to `path`. */
  | { kind: 'slash'; path: string }
  | { kind: 'error'; status: 400 | 403 | 404; why: string }
) & { at?: Place };

/**
 * The questions a walk asks of the site's configuration; route.ts decides
 * nothing about handlers, indexes or listings itself.
 */
export interface RoutePolicy {
  /** Alias and ScriptAlias trees, checked before CGI_PREFIX and the document root. */
  trees: Tree[];
  /** Index files tried, in order, for a directory. */
  indexNames(tree: Tree, dir: string): string[];
  /** How a regular file found by the walk is served. */
  handle(tree: Tree, file: string, stats: Stats): 'script' | 'static' | 'forbidden';
  /** Whether a directory without an index may be listed. */
  listing(tree: Tree, dir: string): boolean;
  /** Whether a symlink met in `dir` may be followed (it must stay inside the tree either way). */
  followSymLinks(tree: Tree, dir: string): boolean;
}

const NO_INDEX = 'directory has no index';
export const DOTFILE = 'dotfile in path';
const fail = (status: 400 | 403 | 404, why: string, at?: Place): Route => ({ kind: 'error', status, why, at });

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

type Step = { stats?: Stats; linked: boolean; refused?: string };

/**
 * Stats one step of a walk without following links. A path built from a real
 * root through plain entries is its own real path; only a symlink on the way
 * costs a realpath, which tells whether it stays inside the root.
 */
function step(path: string, rootReal: string, linked: boolean, follow: () => boolean): Step {
  const own = statOrUndefined(path, false);
  if (own === undefined || !own.isSymbolicLink()) return { stats: own, linked };
  if (!follow()) return { linked: true, refused: 'symlink in a directory without Options FollowSymLinks' };
  if (realInside(path, rootReal) === undefined) return { linked: true, refused: 'path resolves outside its root' };
  return { stats: statOrUndefined(path), linked: true };
}

function isRunnable(config: Config, file: string, stats: Stats): boolean {
  return (stats.mode & 0o111) !== 0 || config.interpreterByExt.has(extname(file).toLowerCase());
}

const STATIC_INDEX = ['index.html', 'index.htm'];

/** Today's rules without a site configuration: CGI_INDEX and the exec bit in script trees, index.html elsewhere. */
export function defaultPolicy(config: Config): RoutePolicy {
  return {
    trees: [],
    indexNames: (tree) => (tree.kind === 'script' ? config.indexNames : STATIC_INDEX),
    handle(tree, file, stats) {
      if (tree.kind === 'static') return 'static';
      if (isRunnable(config, file, stats)) return 'script';
      // CGI_ROOT=CGI_DOCUMENT_ROOT: the tree's stylesheets and pages are files, not refused scripts.
      return tree.root === config.documentRootReal ? 'static' : 'forbidden';
    },
    listing: () => false,
    followSymLinks: () => true,
  };
}

export function treesOf(config: Config, policy: RoutePolicy): Tree[] {
  const trees = [...policy.trees];
  trees.push({ kind: 'script', url: config.prefix, root: config.rootReal, isFile: config.rootIsFile });
  if (config.serveStatic && config.documentRootReal !== undefined) {
    // A CGI_WRITABLE directory inside the document root is served from its link's target, and only from there.
    for (const dir of servedWritableDirs(config)) trees.push({ kind: 'static', url: dir.url, root: dir.root });
    trees.push({ kind: 'static', url: '', root: config.documentRootReal });
  }
  return trees;
}

/** Strips the URL prefix; returns the segments below it, or undefined when the path is elsewhere. */
function belowPrefix(prefix: string, segs: string[]): string[] | undefined {
  let i = 0;
  for (const p of prefix === '' ? [] : prefix.slice(1).split('/')) {
    while (segs[i] === '' && i < segs.length - 1) i++;
    if (segs[i] !== p) return undefined;
    i++;
  }
  return segs.slice(i);
}

function fileRoute(
  policy: RoutePolicy, tree: Tree, at: Place,
  file: string, stats: Stats, urlPath: string, rest: string[],
): Route {
  if (!stats.isFile()) return fail(403, 'not a regular file', at);
  const how = policy.handle(tree, file, stats);
  if (how === 'forbidden') return fail(403, 'script is not executable', at);
  const pathInfo = rest.length === 0 ? '' : '/' + rest.join('/');
  if (how === 'static') {
    if (pathInfo !== '') return fail(404, 'a static file takes no path info', at);
    return { kind: 'static', file, stats, at };
  }
  return { kind: 'script', file, stats, scriptName: urlPath, pathInfo, nph: basename(urlPath).startsWith('nph-'), at };
}

/**
 * Walks the segments below a tree's URL as Apache does: directories are
 * entered, the first regular file is the target and what follows it is PATH_INFO.
 */
function walk(config: Config, policy: RoutePolicy, tree: Tree, below: string[], path: string): Route {
  const rootReal = tree.root;
  if (tree.isFile) {
    const at = { tree, dir: rootReal.slice(0, rootReal.lastIndexOf('/')) || '/', name: basename(rootReal) };
    return fileRoute(policy, tree, at, rootReal, statSync(rootReal), tree.url, below);
  }
  let dir = rootReal;
  let urlPath = tree.url;
  let linked = false;
  const placeOf = (name?: string): Place => ({ tree, dir: linked ? realInside(dir, rootReal) ?? rootReal : dir, name });
  for (let i = 0; i < below.length; i++) {
    const seg = below[i];
    if (seg === '') {
      if (i === below.length - 1) break;
      continue;
    }
    if (seg.startsWith('.')) return fail(403, DOTFILE, placeOf(seg));
    const candidate = `${dir}/${seg}`;
    const found = step(candidate, rootReal, linked, () => policy.followSymLinks(tree, placeOf().dir));
    if (found.refused !== undefined) return fail(403, found.refused, placeOf(seg));
    const stats = found.stats;
    if (stats === undefined) return fail(404, 'no such file', placeOf(seg));
    const wasLinked = linked;
    linked = found.linked;
    urlPath += '/' + seg;
    if (stats.isDirectory()) {
      dir = candidate;
      continue;
    }
    const real = linked ? realInside(candidate, rootReal) : candidate;
    if (real === undefined) return fail(403, 'path resolves outside its root', placeOf(seg));
    linked = wasLinked;
    return fileRoute(policy, tree, placeOf(seg), real, stats, urlPath, below.slice(i + 1));
  }
  const at = placeOf();
  if (!path.endsWith('/') && config.directorySlash) return { kind: 'slash', path: path + '/', at };
  for (const name of policy.indexNames(tree, at.dir)) {
    const candidate = `${at.dir}/${name}`;
    const stats = statOrUndefined(candidate);
    if (!stats?.isFile()) continue;
    const real = realInside(candidate, rootReal);
    const place = { ...at, name };
    if (real === undefined) return fail(403, 'index resolves outside its root', place);
    return fileRoute(policy, tree, place, real, stats, `${urlPath}/${name}`, []);
  }
  if (policy.listing(tree, at.dir)) return { kind: 'listing', dir: at.dir, urlPath: (urlPath || '') + '/', at };
  return fail(403, NO_INDEX, at);
}

/** Maps an encoded request path (stage already removed) to what serves it. */
export function resolveRoute(config: Config, path: string, policy: RoutePolicy = defaultPolicy(config)): Route {
  if (path === '') return config.directorySlash ? { kind: 'slash', path: '/' } : resolveRoute(config, '/', policy);
  if (!path.startsWith('/')) return fail(400, 'path does not start with "/"');
  const segs = decodeSegments(path);
  if (!Array.isArray(segs)) return segs;
  const trees = treesOf(config, policy);
  let first: Route | undefined;
  for (const tree of trees) {
    const below = belowPrefix(tree.url, segs);
    if (below === undefined) continue;
    if (below.length === 0 && !tree.isFile && config.directorySlash) return { kind: 'slash', path: path + '/', at: { tree, dir: tree.root } };
    const route = walk(config, policy, tree, below, path);
    if (route.kind !== 'error') return route;
    first ??= route;
    // A tree at the site root leaves what it cannot serve to the trees after it (e.g. /style.css).
    if (tree.url !== '' || !(route.status === 404 || route.why === NO_INDEX)) return first;
  }
  return first ?? fail(404, 'outside every tree', trees.length > 0 ? { tree: trees[trees.length - 1], dir: trees[trees.length - 1].root } : undefined);
}
