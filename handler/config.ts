import { existsSync, realpathSync, statSync } from 'node:fs';
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
  /** CGI_KEEP_AWS_CREDENTIALS: the exec wrapper keeps the role credentials, and scripts get them. */
  keepAwsCredentials: boolean;
  /** Variables CGI_PASS_ENV or CGI_ENV_<NAME> asked for that are never passed (see NEVER_PASSED). */
  refusedEnv: RefusedVariable[];
  /**
   * CGI_SWEEP: after each script, kill what it left running outside its process
   * group (process/sweep.ts). On by default on Lambda only (AWS_LAMBDA_RUNTIME_API
   * set, not serverless-offline): elsewhere our uid is also the developer's.
   */
  sweep: boolean;
  /**
   * CGI_RLIMIT_CPU (seconds), CGI_RLIMIT_MEM (address space), CGI_RLIMIT_NPROC,
   * CGI_RLIMIT_FSIZE (bytes; K, M, G suffixes): Apache's RLimitCPU, RLimitMEM,
   * RLimitNPROC and the file size, set on each script by wrapper/cgi-exec.
   * Empty: no limits, and no cgi-exec hop.
   */
  rlimits: RLimits;
  /** The cgi-exec program applying `rlimits`; undefined when there are none. */
  execShim: string | undefined;
  /**
   * CGI_SPAWNER: programs other than Perl worker scripts are exec'd from the
   * small cgi-spawner process instead of forked from Node ('off': from Node),
   * with the CGI_RLIMIT_* limits if any. The spawner's path; undefined when
   * off or not found.
   */
  spawner: string | undefined;
  /** CGI_PRIVATE_TMPDIR: a fresh TMPDIR per request, created before the script and removed after it. */
  privateTmpdir: boolean;
}

export interface RLimits {
  cpu?: number;
  mem?: number;
  nproc?: number;
  fsize?: number;
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
/**
 * Never handed to a script, whatever CGI_PASS_ENV or CGI_ENV_<NAME> say: what
 * would let a script act as the function or as the runtime. One entry per name,
 * with the reason logged when a setting asks for it.
 */
const NEVER_PASSED: Record<string, string> = {
  AWS_ACCESS_KEY_ID: "the function's role credentials (CGI_KEEP_AWS_CREDENTIALS=on passes them)",
  AWS_SECRET_ACCESS_KEY: "the function's role credentials (CGI_KEEP_AWS_CREDENTIALS=on passes them)",
  AWS_SESSION_TOKEN: "the function's role credentials (CGI_KEEP_AWS_CREDENTIALS=on passes them)",
  AWS_CONTAINER_AUTHORIZATION_TOKEN: 'the token that fetches the role credentials from the credentials endpoint',
  AWS_CONTAINER_CREDENTIALS_FULL_URI: 'the credentials endpoint',
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: 'the credentials endpoint',
  AWS_LAMBDA_RUNTIME_API: "the Runtime API's address: whoever posts there answers or fails the invocation",
  AWS_LAMBDA_EXEC_WRAPPER: "the runtime's start-up wrapper",
  _LAMBDA_TELEMETRY_LOG_FD: "the runtime's log descriptor",
  _HANDLER: "the runtime's handler setting",
  _X_AMZN_TRACE_ID: "the runtime's trace context (scripts get the request's X-Amzn-Trace-Id header as HTTP_X_AMZN_TRACE_ID)",
  LD_PRELOAD: "the exec wrapper's preload object, for the Node process only",
  HTTP_PROXY: 'httpoxy: a client could set it through a Proxy header in some CGI libraries',
};
/** Whole families of runtime internals (_LAMBDA_SB_ID, _LAMBDA_CONTROL_SOCKET, _AWS_XRAY_DAEMON_ADDRESS, ...). */
const NEVER_PASSED_PREFIXES: Array<[string, string]> = [
  ['_LAMBDA_', 'a Lambda runtime internal'],
  ['_AWS_', 'an AWS runtime internal'],
];
const AWS_KEYS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'];

/** Why a variable is never passed, or undefined when it may be. */
export function neverPassed(name: string, keepAwsCredentials: boolean): string | undefined {
  if (keepAwsCredentials && AWS_KEYS.includes(name)) return undefined;
  if (Object.hasOwn(NEVER_PASSED, name)) return NEVER_PASSED[name];
  return NEVER_PASSED_PREFIXES.find(([prefix]) => name.startsWith(prefix))?.[1];
}

/** A variable a setting asked for and did not get; logged once when the configuration is read. */
export interface RefusedVariable {
  name: string;
  /** CGI_PASS_ENV or CGI_ENV_<NAME>. */
  setting: string;
  why: string;
}

type Env = Record<string, string | undefined>;

/** One entry per limit: the setting, the cgi-exec flag, whether it takes a byte size. */
export const RLIMIT_SETTINGS: Array<{ key: keyof RLimits; name: string; flag: string; bytes: boolean }> = [
  { key: 'cpu', name: 'CGI_RLIMIT_CPU', flag: '-c', bytes: false },
  { key: 'mem', name: 'CGI_RLIMIT_MEM', flag: '-m', bytes: true },
  { key: 'nproc', name: 'CGI_RLIMIT_NPROC', flag: '-n', bytes: false },
  { key: 'fsize', name: 'CGI_RLIMIT_FSIZE', flag: '-f', bytes: true },
];
const SIZE_SUFFIX: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
/** Where the wrapper layer's programs are: beside the bundle (dist/wrapper/), in the source tree's build, or in the layer. */
const wrapperPlaces = (name: string) => [
  join(__dirname, 'wrapper', name),
  join(__dirname, '..', 'dist', 'wrapper', name),
  `/opt/lambda-cgi/${name}`,
];
const EXEC_SHIM_PLACES = wrapperPlaces('cgi-exec');
const SPAWNER_PLACES = wrapperPlaces('cgi-spawner');

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

function passedEnvFrom(env: Env, keepAws: boolean, refused: RefusedVariable[]): Record<string, string> {
  const asked = list(env.CGI_PASS_ENV, []);
  const out: Record<string, string> = {};
  for (const name of [...DEFAULT_PASS_ENV, ...(keepAws ? AWS_KEYS : []), ...asked]) {
    const why = neverPassed(name, keepAws);
    if (why !== undefined) {
      if (asked.includes(name)) refused.push({ name, setting: 'CGI_PASS_ENV', why });
      continue;
    }
    const value = env[name];
    if (value !== undefined) out[name] = value;
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

function fixedEnvFrom(env: Env, keepAws: boolean, refused: RefusedVariable[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith('CGI_ENV_') || value === undefined) continue;
    const name = key.slice('CGI_ENV_'.length);
    if (name === '') continue;
    const why = neverPassed(name, keepAws);
    if (why === undefined) out[name] = value;
    else refused.push({ name, setting: key, why });
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

function rlimitsFrom(env: Env): RLimits {
  const out: RLimits = {};
  for (const r of RLIMIT_SETTINGS) {
    const raw = env[r.name]?.trim();
    if (raw === undefined || raw === '') continue;
    const m = (r.bytes ? /^(\d+)\s*([KMG]?)B?$/i : /^(\d+)()$/).exec(raw);
    const n = m === null ? NaN : Number(m[1]) * SIZE_SUFFIX[m[2].toUpperCase()];
    if (!Number.isSafeInteger(n) || n <= 0) {
      throw new ConfigError(`${r.name} must be a positive ${r.bytes ? 'size (bytes, or with K, M, G)' : 'integer'}, got "${raw}"`);
    }
    out[r.key] = n;
  }
  return out;
}

function execShimFor(rlimits: RLimits): string | undefined {
  if (Object.keys(rlimits).length === 0) return undefined;
  const found = EXEC_SHIM_PLACES.find((p) => existsSync(p));
  // Fail closed: limits the function asked for and cannot set.
  if (found === undefined) throw new ConfigError(`CGI_RLIMIT_* is set but cgi-exec is in none of ${EXEC_SHIM_PLACES.join(', ')}`);
  return found;
}

export function loadConfig(env: Env = process.env): Config {
  const root = localPath(env, env.CGI_ROOT || '/opt/cgi-bin');
  const documentRoot = localPath(env, env.CGI_DOCUMENT_ROOT || '/opt/htdocs');
  const rootReal = realOrUndefined(root);
  const interpreters = parseInterpreters(env, env.CGI_INTERPRETERS);
  const logFormat = (env.CGI_LOG_FORMAT || 'json').toLowerCase();
  if (logFormat !== 'json' && logFormat !== 'combined') {
    throw new ConfigError(`CGI_LOG_FORMAT must be "json" or "combined", got "${env.CGI_LOG_FORMAT}"`);
  }
  const keepAwsCredentials = flag(env.CGI_KEEP_AWS_CREDENTIALS, false);
  const rlimits = rlimitsFrom(env);
  const refusedEnv: RefusedVariable[] = [];
  const fixedEnv = fixedEnvFrom(env, keepAwsCredentials, refusedEnv);
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
    passedEnv: withLocale(passedEnvFrom(env, keepAwsCredentials, refusedEnv), fixedEnv),
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
    functionEnv: (name) => (neverPassed(name, keepAwsCredentials) !== undefined ? undefined : env[name]),
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
    keepAwsCredentials,
    refusedEnv,
    sweep: flag(env.CGI_SWEEP, env.AWS_LAMBDA_RUNTIME_API !== undefined && !env.IS_OFFLINE),
    rlimits,
    execShim: execShimFor(rlimits),
    spawner: flag(env.CGI_SPAWNER, true) ? SPAWNER_PLACES.find((p) => existsSync(p)) : undefined,
    privateTmpdir: flag(env.CGI_PRIVATE_TMPDIR, false),
  };
}
