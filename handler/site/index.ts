/**
 * The site policy stage, between the request and the response: which trees
 * exist (CGI_CONFIG's Alias/ScriptAlias beside CGI_PREFIX and the document
 * root), what each directory's configuration says a file is (a script, a file,
 * refused), whether the client may have it, and what its answer carries.
 */
import { readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join } from 'node:path';
import { ConfigError, neverPassed, type Config } from '../config';
import type { Logger } from '../log';
import type { HttpRequest, HttpResponse } from '../request';
import { DOTFILE, type Place, type Route, type RoutePolicy, type Tree } from '../route';
import { errorResponse, redirectResponse } from '../status';
import { checkAccess } from './access';
import { emptyDirConfig, type AliasValue, type DirConfig, type ErrorDocument } from './directives';
import { effectiveConfig, HtaccessCache, wildcard, type Effective, type ServerConfig } from './merge';
import { parseApacheConfig, type ConfigNode } from './parse';

export { contentFor, finishHeaders, listDirectory, serveFile } from './content';
export type { DirConfig } from './directives';

function realOr(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    return path;
  }
}

/** Reads CGI_CONFIG: problems there make the whole function misconfigured (Apache would not start). */
function loadServerConfig(config: Config): { server: ServerConfig; trees: Tree[] } {
  const server: ServerConfig = { top: [], directories: [] };
  const trees: Tree[] = [];
  if (config.siteConfig === undefined) return { server, trees };
  let text: string;
  try {
    text = readFileSync(config.siteConfig, 'utf8');
  } catch (err) {
    throw new ConfigError(`CGI_CONFIG ${config.siteConfig} cannot be read: ${(err as Error).message}`);
  }
  const parsed = parseApacheConfig(text, config.siteConfig, 'config');
  if (parsed.problems.length > 0) {
    const list = parsed.problems.map((p) => `${p.file}:${p.line}: ${p.directive}: ${p.message}`).join('; ');
    throw new ConfigError(`CGI_CONFIG has ${parsed.problems.length} problem(s): ${list}`);
  }
  const docRoot = config.documentRootReal ?? config.documentRoot;
  const resolveDir = (p: string) => realOr(config.localPath(isAbsolute(p) ? p : join(docRoot, p)).replace(/\/+$/, '') || '/');
  for (const node of parsed.nodes) {
    if (node.type === 'directive' && (node.name === 'alias' || node.name === 'scriptalias')) {
      const v = node.value as AliasValue;
      const dir = realOr(config.localPath(v.dir));
      let isFile = false;
      try {
        isFile = statSync(dir).isFile();
      } catch {
        // A missing target answers 404 like any missing file.
      }
      trees.push({ kind: node.name === 'alias' ? 'static' : 'script', url: v.url, root: dir, isFile });
    } else if (node.type === 'section' && node.name === 'directory') {
      const p = node.args[node.args.length - 1];
      if (node.regex !== undefined) server.directories.push({ regex: node.regex, nodes: node.children });
      else if (/[*?[]/.test(p)) server.directories.push({ regex: new RegExp(wildcard(resolveDir(p)).source.replace(/\$$/, '(/|$)')), nodes: node.children });
      else server.directories.push({ path: resolveDir(p), nodes: node.children });
    } else if (node.type === 'section' && node.name === 'directorymatch') {
      server.directories.push({ regex: node.regex, nodes: node.children });
    } else {
      server.top.push(node as ConfigNode);
    }
  }
  trees.sort((a, b) => b.url.length - a.url.length);
  return { server, trees };
}

export interface Checked {
  conf: DirConfig;
  req: HttpRequest;
  /** Set when the request stops here: a refusal, a 500 for a broken config, or a Redirect. */
  answer?: HttpResponse;
  /** The authenticated user, for the access log. */
  user?: string;
}

export class Site {
  private readonly cache = new HtaccessCache();
  private readonly server: ServerConfig;
  private readonly trees: Tree[];

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    ({ server: this.server, trees: this.trees } = loadServerConfig(config));
  }

  /** The directory `.htaccess` files are read from: the highest of the document root and the tree's root that holds `dir`. */
  private chainRoot(tree: Tree, dir: string): string {
    const doc = this.config.documentRootReal;
    if (doc !== undefined && (dir === doc || dir.startsWith(doc + '/'))) return doc;
    const root = tree.isFile ? dirname(tree.root) : tree.root;
    return dir === root || dir.startsWith(root + '/') ? root : dir;
  }

  /** One request's view of the site: configurations are merged once per directory and file name. */
  forRequest(): SiteRequest {
    return new SiteRequest(this.config, this.trees, (tree, dir, name) => effectiveConfig(this.server, this.cache, this.chainRoot(tree, dir), dir, name), this.log);
  }
}

type Merge = (tree: Tree, dir: string, name: string | undefined) => Effective;

export class SiteRequest implements RoutePolicy {
  private readonly memo = new Map<string, Effective>();

  constructor(
    private readonly config: Config,
    readonly trees: Tree[],
    private readonly merge: Merge,
    private readonly log: Logger,
  ) {}

  effective(tree: Tree, dir: string, name: string | undefined): Effective {
    const key = `${tree.root}\0${dir}\0${name ?? ''}`;
    let e = this.memo.get(key);
    if (e === undefined) this.memo.set(key, (e = this.merge(tree, dir, name)));
    return e;
  }

  private conf(tree: Tree, dir: string, name?: string): DirConfig {
    return this.effective(tree, dir, name).conf;
  }

  indexNames(tree: Tree, dir: string): string[] {
    const own = this.conf(tree, dir).directoryIndex;
    if (own !== undefined) return own;
    return tree.kind === 'script' ? this.config.indexNames : ['index.html', 'index.htm'];
  }

  handle(tree: Tree, file: string, stats: Stats): 'script' | 'static' | 'forbidden' {
    const conf = this.conf(tree, dirname(file), basename(file));
    const handler = conf.setHandler !== undefined && conf.setHandler !== 'none'
      ? conf.setHandler
      : conf.handlers.get(extname(file).slice(1).toLowerCase());
    const runnable = (stats.mode & 0o111) !== 0 || this.config.interpreterByExt.has(extname(file).toLowerCase());
    const sameTree = tree.root === this.config.documentRootReal;
    if (tree.kind === 'script') {
      // CGI_ROOT=CGI_DOCUMENT_ROOT with handlers mapped: only mapped files run, the rest are files.
      const mapped = sameTree && (conf.handlers.size > 0 || (conf.setHandler !== undefined && conf.setHandler !== 'none'));
      if (mapped) return handler === 'cgi-script' ? (runnable ? 'script' : 'forbidden') : 'static';
      if (runnable) return 'script';
      return sameTree ? 'static' : 'forbidden';
    }
    if (handler !== 'cgi-script') return 'static';
    // Apache: "Options ExecCGI is off in this directory"; an unrunnable file is refused the same way.
    return conf.execCgi && runnable ? 'script' : 'forbidden';
  }

  listing(tree: Tree, dir: string): boolean {
    return tree.kind === 'static' && this.conf(tree, dir).indexes;
  }

  followSymLinks(tree: Tree, dir: string): boolean {
    return this.conf(tree, dir).followSymLinks;
  }

  /** The place a route reached, or the document root for paths no tree holds. */
  private placeOf(route: Route): Place | undefined {
    if (route.at !== undefined) return route.at;
    const doc = this.config.documentRootReal;
    return doc === undefined ? undefined : { tree: { kind: 'static', url: '', root: doc }, dir: doc };
  }

  /**
   * The configuration of the place a route reached, without access checks: for
   * an error page decided outside the route (size refusals, the payload limit).
   * A directory whose configuration has problems gets none of it.
   */
  confAt(route: Route): DirConfig {
    const place = this.placeOf(route);
    if (place === undefined) return emptyDirConfig();
    const eff = this.effective(place.tree, place.dir, place.name);
    return eff.problems.length > 0 ? emptyDirConfig() : eff.conf;
  }

  /** Fail-closed configuration, access, then Redirect, for the place a route reached. */
  check(req: HttpRequest, route: Route, requestId: string): Checked {
    const place = this.placeOf(route);
    if (place === undefined) return { conf: emptyDirConfig(), req };
    const eff = this.effective(place.tree, place.dir, place.name);
    if (eff.problems.length > 0) {
      for (const p of eff.problems) {
        this.log.error(requestId, `refused ${req.method} ${req.path}: ${p.file}:${p.line}: ${p.directive}: ${p.message}`, { status: 500 });
      }
      return { conf: emptyDirConfig(), req, answer: errorResponse(500) };
    }
    const conf = eff.conf;
    // .ht* and other dotfiles are refused before any login is asked for, as Apache's <Files ".ht*">.
    if (route.kind === 'error' && route.why === DOTFILE) return { conf, req };
    const access = checkAccess(conf, req, this.config.localPath);
    if (!access.ok) {
      const message = `refused ${req.method} ${req.path}: ${access.why}`;
      if (access.status === 500) this.log.error(requestId, message, { status: 500 });
      else this.log.warn(requestId, message, { status: access.status });
      return { conf, req, answer: errorResponse(access.status, access.headers) };
    }
    const authed = access.user === undefined ? req : { ...req, auth: { user: access.user, type: 'Basic' } };
    const redirect = redirectFor(conf, authed);
    return { conf, req: authed, user: access.user, answer: redirect };
  }

  /** The environment a script starts from: the function's passed variables, then PassEnv, SetEnv, UnsetEnv. */
  scriptEnv(conf: DirConfig): Record<string, string> {
    const env: Record<string, string> = Object.assign({}, this.config.passedEnv, this.config.fixedEnv);
    for (const name of conf.passEnv) {
      const v = this.config.functionEnv(name);
      if (v !== undefined) env[name] = v;
    }
    for (const [k, v] of conf.setEnv) if (neverPassed(k, this.config.keepAwsCredentials) === undefined) env[k] = v;
    for (const k of conf.unsetEnv) delete env[k];
    return env;
  }
}

function decodedPath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** mod_alias: the first Redirect or RedirectMatch that matches the URL-path. */
function redirectFor(conf: DirConfig, req: HttpRequest): HttpResponse | undefined {
  const path = decodedPath(req.path);
  for (const rule of conf.redirects) {
    let target: string | undefined;
    if (rule.regex !== undefined) {
      const m = rule.regex.exec(path);
      if (m === null) continue;
      target = rule.to?.replace(/\$(\d)/g, (_, d: string) => m[Number(d)] ?? '');
    } else {
      const prefix = rule.prefix!;
      if (!(prefix === '/' || path === prefix || path.startsWith(prefix + '/'))) continue;
      if (rule.to !== undefined) {
        const rest = prefix === '/' ? path.slice(1) : path.slice(prefix.length).replace(/^\//, '');
        target = rule.to + (rest === '' ? '' : (rule.to.endsWith('/') ? '' : '/') + encodeURI(rest).replace(/\?/g, '%3F'));
        if (req.query !== '' && !target.includes('?')) target += '?' + req.query;
      }
    }
    if (rule.status === 410 || target === undefined) return errorResponse(rule.status);
    if (target.startsWith('/')) target = req.basePath + target;
    return redirectResponse(rule.status, target);
  }
  return undefined;
}

/** ErrorDocument for a status the gateway produced, if the site set one. */
export function errorDocumentFor(conf: DirConfig | undefined, status: number): ErrorDocument | undefined {
  const doc = conf?.errorDocuments.get(status);
  return doc === undefined || doc.kind === 'default' ? undefined : doc;
}
