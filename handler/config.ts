import { realpathSync, statSync } from 'node:fs';
import { resolve, join } from 'node:path';

/**
 * Everything the gateway can be told, read once from the function's environment.
 * Each field names the variable that sets it; the README's configuration table
 * lists the same variables with their defaults.
 */
export interface Config {
  /** CGI_ROOT: the directory of CGI programs, or one executable that serves every URL under the prefix. */
  root: string;
  /** Real path of `root`, so a symlink cannot lead a request outside it. */
  rootReal: string;
  /** True when CGI_ROOT names one executable file (a front controller). */
  rootIsFile: boolean;
  /** CGI_PREFIX: URL path the root is served under, '' for the site root. Never ends in '/'. */
  prefix: string;
  /** CGI_DOCUMENT_ROOT: static files outside the prefix, and DOCUMENT_ROOT / PATH_TRANSLATED. */
  documentRoot: string;
  documentRootReal: string | undefined;
  /** CGI_INDEX: scripts tried, in order, for a directory request. */
  indexNames: string[];
  /** CGI_TIMEOUT_MS: undefined means "just under the invocation's remaining time". */
  timeoutMs: number | undefined;
  /** CGI_MAX_BODY_BYTES: larger request bodies get 413 without starting a process. */
  maxBodyBytes: number;
  /** CGI_MAX_HEADER_BYTES: larger request header sets get 431, longer URLs 414. */
  maxHeaderBytes: number;
  /**
   * PATH, TZ, LD_LIBRARY_PATH, PERL5LIB and CGI_PASS_ENV names, copied once from the function's
   * environment; LANG and LC_ALL are C.UTF-8 unless CGI_PASS_ENV or CGI_ENV_ names a locale variable.
   */
  passedEnv: Record<string, string>;
  /** CGI_ENV_<NAME>=value sets NAME=value for every script (Apache's SetEnv). */
  fixedEnv: Record<string, string>;
  /** CGI_INTERPRETERS: shebang interpreter remaps ('/usr/bin/perl' -> '/opt/bin/perl'). */
  interpreterByPath: Map<string, string>;
  /** CGI_INTERPRETERS: extensions run by an interpreter ('.pl' -> '/opt/bin/perl'); such files need no exec bit. */
  interpreterByExt: Map<string, string>;
  /** CGI_PASS_AUTH: pass the Authorization header as HTTP_AUTHORIZATION (Apache's CGIPassAuth). */
  passAuth: boolean;
  /** CGI_SERVER_ADMIN: SERVER_ADMIN, when set. */
  serverAdmin: string | undefined;
  /** CGI_SERVER_NAME: a canonical SERVER_NAME instead of the Host header (Apache's UseCanonicalName). */
  serverName: string | undefined;
  /** CGI_BASE_PATH: the public path prefix (custom domain mapping key) instead of the detected stage; '/' for none. */
  basePath: string | undefined;
  /** CGI_LOG_FORMAT: 'json' (default) or 'combined' (Apache combined log format). */
  logFormat: 'json' | 'combined';
  /** CGI_STATIC: serve files from the document root for URLs outside the prefix ('off' disables). */
  serveStatic: boolean;
  /**
   * CGI_DIRECTORY_SLASH: redirect a directory URL without its trailing slash (Apache's
   * DirectorySlash). Off by default under serverless-offline, which strips trailing
   * slashes and would make the redirect loop.
   */
  directorySlash: boolean;
  /** CGI_CONFIG: an Apache-syntax file of site-wide directives (the old vhost's), or undefined. */
  siteConfig: string | undefined;
  /** Maps a path the site's configuration names (/opt/...) to where it is read from (see localPath). */
  localPath: (path: string) => string;
  /** A variable of the function's own environment, for PassEnv; never one NEVER_PASSED names. */
  functionEnv: (name: string) => string | undefined;
  /** CGI_PERL_WORKER: run eligible Perl scripts in the persistent Perl worker ('off' disables). */
  perlWorker: boolean;
  /** CGI_PERL_WORKER_EXCLUDE: globs (relative to the script's root) of Perl scripts that always run by plain spawn. */
  perlWorkerExclude: string[];
  /** CGI_PERL_PRELOAD: modules the worker loads once at start-up. */
  perlPreload: string[];
  /** CGI_PERL_PRECOMPILE: globs of scripts compiled once into a zygote of their own (opt-in). */
  perlPrecompile: string[];
  /** CGI_PERL_WORKER_MAX_REQUESTS: requests after which the worker is replaced by a fresh one. */
  perlWorkerMaxRequests: number;
  /** CGI_MAX_CONCURRENCY: most scripts running at once in one process; more get 503 with Retry-After. Unset: no cap. */
  maxConcurrency: number | undefined;
  /**
   * CGI_WRITABLE: directories of the site (relative to the layer root, e.g.
   * cgi-bin/data) that scripts write to; packaged as links into CGI_DATA_DIR and
   * seeded at start (writable.ts).
   */
  writable: string[];
  /** The layer root the CGI_WRITABLE paths are relative to: /opt, or where serverless-offline reads it from. */
  layerRoot: string;
  /** CGI_DATA_DIR: the durable data directory (the EFS mount); under serverless-offline, default ./.data. */
  dataDir: string | undefined;
  /** Running under serverless-offline (IS_OFFLINE). */
  offline: boolean;
}

export const SERVER_SOFTWARE = 'lambda-cgi/0.1';
export const DEFAULT_PASS_ENV = ['PATH', 'TZ', 'LD_LIBRARY_PATH', 'PERL5LIB'];
/**
 * The one UTF-8 locale Lambda's Amazon Linux 2023 image has. Lambda sets
 * LANG=en_US.UTF-8, which it lacks: Perl would warn about it on every request.
 */
export const DEFAULT_LOCALE = 'C.UTF-8';
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';
/** CGI plus what CGI.pm loads lazily on first use, and a small core set most CGI scripts use. */
export const DEFAULT_PERL_PRELOAD = [
  'CGI', 'CGI::Util', 'CGI::Cookie', 'HTML::Entities', 'Encode', 'POSIX', 'Data::Dumper', 'File::Spec',
  'File::Basename', 'Cwd', 'Time::Local', 'Digest::MD5', 'Fcntl', 'Carp', 'Scalar::Util', 'List::Util',
];
/** Never handed to a script, whatever CGI_PASS_ENV says: the function's own credentials, and httpoxy. */
export const NEVER_PASSED = new Set(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'HTTP_PROXY']);

type Env = Record<string, string | undefined>;

export class ConfigError extends Error {}

function positiveInt(env: Env, name: string, fallback: number | undefined): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

/** An on/off setting; unset or empty means the default. */
function flag(raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw.trim() === '') return fallback;
  return !/^(0|false|off|no)$/i.test(raw.trim());
}

function list(raw: string | undefined, fallback: string[]): string[] {
  if (raw === undefined) return fallback;
  return raw.split(/[,\s]+/).filter(Boolean);
}

/** Unset or empty: the default set; "none": nothing. */
function perlPreloadFrom(raw: string | undefined): string[] {
  if (raw === undefined || raw.trim() === '') return DEFAULT_PERL_PRELOAD;
  return raw.trim().toLowerCase() === 'none' ? [] : list(raw, []);
}

function normalisePrefix(raw: string): string {
  const trimmed = raw.trim().replace(/\/+$/, '');
  if (trimmed === '') return '';
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

/**
 * serverless-offline does not mount layers, so when it runs the handler, paths under
 * /opt are read from the project's layers/ folder (or CGI_OFFLINE_LAYER_DIR).
 */
function localPath(env: Env, path: string): string {
  if (!env.IS_OFFLINE || !(path === '/opt' || path.startsWith('/opt/'))) return path;
  const layerDir = resolve(env.CGI_OFFLINE_LAYER_DIR || 'layers');
  return join(layerDir, path.slice('/opt'.length));
}

function realOrUndefined(path: string): string | undefined {
  try {
    return realpathSync.native(path);
  } catch {
    return undefined;
  }
}

function parseInterpreters(env: Env, raw: string | undefined) {
  const byPath = new Map<string, string>();
  const byExt = new Map<string, string>();
  for (const entry of list(raw, [])) {
    const eq = entry.indexOf('=');
    const from = entry.slice(0, eq);
    const to = localPath(env, entry.slice(eq + 1));
    if (eq <= 0 || to === '') throw new ConfigError(`CGI_INTERPRETERS entry "${entry}" is not from=to`);
    if (from.startsWith('.')) byExt.set(from.toLowerCase(), to);
    else byPath.set(from, to);
  }
  return { byPath, byExt };
}

function passedEnvFrom(env: Env): Record<string, string> {
  const names = [...DEFAULT_PASS_ENV, ...list(env.CGI_PASS_ENV, [])];
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && !NEVER_PASSED.has(name)) out[name] = value;
  }
  if (out.PATH === undefined) out.PATH = DEFAULT_PATH;
  return out;
}

/** LANG and LC_ALL for scripts, unless the function names any locale variable itself. */
function withLocale(passed: Record<string, string>, fixed: Record<string, string>): Record<string, string> {
  const named = (name: string) => name === 'LANG' || name.startsWith('LC_');
  if (Object.keys(passed).some(named) || Object.keys(fixed).some(named)) return passed;
  return { ...passed, LANG: DEFAULT_LOCALE, LC_ALL: DEFAULT_LOCALE };
}

function fixedEnvFrom(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith('CGI_ENV_') || value === undefined) continue;
    const name = key.slice('CGI_ENV_'.length);
    if (name !== '' && !NEVER_PASSED.has(name)) out[name] = value;
  }
  return out;
}

/** CGI_WRITABLE entries: relative paths that stay inside the layer (the packager applies the same rule). */
function parseWritable(raw: string | undefined): string[] {
  return list(raw, []).map((entry) => {
    const rel = entry.replace(/\/+$/, '');
    const segs = rel.split('/');
    if (rel.startsWith('/') || segs.some((s) => s === '' || s === '.' || s === '..' || s.startsWith('.lambda-cgi'))) {
      throw new ConfigError(`CGI_WRITABLE entry "${entry}" must be a directory relative to the site layer (e.g. cgi-bin/data)`);
    }
    return rel;
  });
}

export function loadConfig(env: Env = process.env): Config {
  const root = localPath(env, env.CGI_ROOT || '/opt/cgi-bin');
  const documentRoot = localPath(env, env.CGI_DOCUMENT_ROOT || '/opt/htdocs');
  const rootReal = realOrUndefined(root);
  const interpreters = parseInterpreters(env, env.CGI_INTERPRETERS);
  const logFormat = (env.CGI_LOG_FORMAT || 'json').toLowerCase();
  const fixedEnv = fixedEnvFrom(env);
  if (logFormat !== 'json' && logFormat !== 'combined') {
    throw new ConfigError(`CGI_LOG_FORMAT must be "json" or "combined", got "${env.CGI_LOG_FORMAT}"`);
  }
  return {
    root,
    rootReal: rootReal ?? root,
    rootIsFile: rootReal !== undefined && statSync(rootReal).isFile(),
    prefix: normalisePrefix(env.CGI_PREFIX ?? '/cgi-bin'),
    documentRoot,
    documentRootReal: realOrUndefined(documentRoot),
    indexNames: list(env.CGI_INDEX, ['index.cgi', 'index.pl']),
    timeoutMs: positiveInt(env, 'CGI_TIMEOUT_MS', undefined),
    maxBodyBytes: positiveInt(env, 'CGI_MAX_BODY_BYTES', 6 * 1024 * 1024)!,
    maxHeaderBytes: positiveInt(env, 'CGI_MAX_HEADER_BYTES', 64 * 1024)!,
    passedEnv: withLocale(passedEnvFrom(env), fixedEnv),
    fixedEnv,
    interpreterByPath: interpreters.byPath,
    interpreterByExt: interpreters.byExt,
    passAuth: flag(env.CGI_PASS_AUTH, false),
    serverAdmin: env.CGI_SERVER_ADMIN || undefined,
    serverName: env.CGI_SERVER_NAME || undefined,
    basePath: env.CGI_BASE_PATH ? normalisePrefix(env.CGI_BASE_PATH) : undefined,
    logFormat,
    serveStatic: flag(env.CGI_STATIC, true),
    directorySlash: flag(env.CGI_DIRECTORY_SLASH, !env.IS_OFFLINE),
    siteConfig: env.CGI_CONFIG ? localPath(env, env.CGI_CONFIG) : undefined,
    localPath: (path) => localPath(env, path),
    functionEnv: (name) => (NEVER_PASSED.has(name) ? undefined : env[name]),
    perlWorker: flag(env.CGI_PERL_WORKER, true),
    perlWorkerExclude: list(env.CGI_PERL_WORKER_EXCLUDE, []),
    perlPreload: perlPreloadFrom(env.CGI_PERL_PRELOAD),
    perlPrecompile: list(env.CGI_PERL_PRECOMPILE, []),
    perlWorkerMaxRequests: positiveInt(env, 'CGI_PERL_WORKER_MAX_REQUESTS', 10_000)!,
    maxConcurrency: positiveInt(env, 'CGI_MAX_CONCURRENCY', undefined),
    writable: parseWritable(env.CGI_WRITABLE),
    layerRoot: localPath(env, '/opt'),
    dataDir: env.CGI_DATA_DIR ? resolve(env.CGI_DATA_DIR) : env.IS_OFFLINE ? resolve('.data') : undefined,
    offline: Boolean(env.IS_OFFLINE),
  };
}
