/**
 * Every directive the site configuration understands, one entry each: where it
 * may appear, its module, how its arguments are read (an ArgError is a problem
 * that fails the directory closed) and what it does to the per-directory
 * configuration. Adding a directive is adding one entry here.
 */
import { BlockList, isIP } from 'node:net';

export type Context = 'htaccess' | 'config';

/** A directive's arguments cannot be honoured: the message goes into `problems`. */
export class ArgError extends Error {}

/** Methods a <Limit> or <LimitExcept> narrows its directives to. */
export interface MethodFilter {
  methods: Set<string>;
  except: boolean;
}

export function methodApplies(filter: MethodFilter | undefined, method: string): boolean {
  if (filter === undefined) return true;
  // <Limit GET> covers HEAD too, as Apache's method numbers do.
  const m = method === 'HEAD' ? 'GET' : method;
  return filter.methods.has(m) !== filter.except;
}

export interface RequireRule {
  kind: 'require';
  negate: boolean;
  provider: 'all-granted' | 'all-denied' | 'valid-user' | 'user' | 'group' | 'ip' | 'method';
  names: string[];
  nets?: BlockList;
  methods?: MethodFilter;
}

export interface AuthzGroup {
  kind: 'any' | 'all' | 'none';
  items: Array<RequireRule | AuthzGroup>;
  methods?: MethodFilter;
}

export interface HostRule {
  all: boolean;
  nets?: BlockList;
  methods?: MethodFilter;
}

export interface ErrorDocument {
  kind: 'path' | 'text' | 'url' | 'default';
  value: string;
}

export interface RedirectRule {
  status: number;
  /** Redirect: the URL-path prefix; RedirectMatch: the pattern. */
  prefix?: string;
  regex?: RegExp;
  /** Absent for 410 Gone. */
  to?: string;
}

export interface HeaderRule {
  always: boolean;
  action: 'set' | 'append' | 'add' | 'unset' | 'merge' | 'setifempty';
  name: string;
  value: string;
}

/** Seconds after access ('A') or after the file's modification ('M'). */
export interface ExpiresRule {
  base: 'A' | 'M';
  seconds: number;
}

/** The effective configuration of one directory (and file), built by applying directives in order. */
export interface DirConfig {
  execCgi: boolean;
  indexes: boolean;
  followSymLinks: boolean;
  /** Extension (lower case, no dot) → handler name. */
  handlers: Map<string, string>;
  /** SetHandler; 'none' clears it. */
  setHandler?: string;
  directoryIndex?: string[];
  errorDocuments: Map<number, ErrorDocument>;
  redirects: RedirectRule[];
  authType?: string;
  authName?: string;
  authUserFile?: string;
  authGroupFile?: string;
  /** The Require tree in force (a section with Require lines replaces its parent's). */
  authz?: AuthzGroup;
  order?: 'deny,allow' | 'allow,deny' | 'mutual-failure';
  allow: HostRule[];
  deny: HostRule[];
  satisfy: 'all' | 'any';
  types: Map<string, string>;
  forceType?: string;
  defaultType?: string;
  /** AddDefaultCharset: added to text/plain and text/html answers that name none. */
  defaultCharset?: string;
  charsets: Map<string, string>;
  encodings: Map<string, string>;
  headers: HeaderRule[];
  expiresActive: boolean;
  expiresByType: Map<string, ExpiresRule>;
  expiresDefault?: ExpiresRule;
  setEnv: Map<string, string>;
  unsetEnv: Set<string>;
  passEnv: string[];
  passAuth?: boolean;
}

export function emptyDirConfig(): DirConfig {
  return {
    execCgi: false, indexes: false, followSymLinks: true,
    handlers: new Map(), errorDocuments: new Map(), redirects: [],
    allow: [], deny: [], satisfy: 'all',
    types: new Map(), charsets: new Map(), encodings: new Map(),
    headers: [], expiresActive: false, expiresByType: new Map(),
    setEnv: new Map(), unsetEnv: new Set(), passEnv: [],
  };
}

/** A copy whose collections can be changed without touching the parent's. */
export function cloneDirConfig(c: DirConfig): DirConfig {
  return {
    ...c,
    handlers: new Map(c.handlers), errorDocuments: new Map(c.errorDocuments), redirects: [...c.redirects],
    allow: [...c.allow], deny: [...c.deny],
    types: new Map(c.types), charsets: new Map(c.charsets), encodings: new Map(c.encodings),
    headers: [...c.headers], expiresByType: new Map(c.expiresByType),
    setEnv: new Map(c.setEnv), unsetEnv: new Set(c.unsetEnv), passEnv: [...c.passEnv],
  };
}

export interface DirectiveSpec {
  module: string;
  contexts: readonly Context[];
  /** Allowed inside <Limit>/<LimitExcept>. */
  access?: true;
  /** Only at the top level of the server config (Alias, ScriptAlias). */
  topLevel?: true;
  parse(args: string[]): unknown;
  /** The effect on the per-directory config; absent for directives the merge handles itself (Require, Alias). */
  apply?(conf: DirConfig, value: any, methods: MethodFilter | undefined): void;
}

const BOTH = ['htaccess', 'config'] as const;
const CONFIG = ['config'] as const;

function count(args: string[], min: number, max = min): string[] {
  if (args.length < min || args.length > max) {
    const want = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
    throw new ArgError(`takes ${want} argument${max === 1 ? '' : 's'}, got ${args.length}`);
  }
  return args;
}

function onOff(args: string[]): boolean {
  const [v] = count(args, 1);
  if (/^on$/i.test(v)) return true;
  if (/^off$/i.test(v)) return false;
  throw new ArgError(`must be On or Off, got "${v}"`);
}

const ext = (e: string) => e.replace(/^\./, '').toLowerCase();
function extensions(args: string[]): string[] {
  if (args.length === 0) throw new ArgError('needs at least one extension');
  return args.map(ext);
}

const MIME = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+*-]+(\s*;.*)?$/;
function mimeType(v: string): string {
  if (!MIME.test(v)) throw new ArgError(`"${v}" is not a media type`);
  return v;
}

const OPTIONS: Record<string, Array<'execCgi' | 'indexes' | 'followSymLinks'> | 'unsupported'> = {
  execcgi: ['execCgi'], indexes: ['indexes'], followsymlinks: ['followSymLinks'],
  all: ['execCgi', 'indexes', 'followSymLinks'], none: [],
  includes: 'unsupported', includesnoexec: 'unsupported', multiviews: 'unsupported', symlinksifownermatch: 'unsupported',
};

interface OptionsValue {
  reset: boolean;
  on: Array<'execCgi' | 'indexes' | 'followSymLinks'>;
  off: Array<'execCgi' | 'indexes' | 'followSymLinks'>;
}

function parseOptions(args: string[]): OptionsValue {
  count(args, 1, Infinity);
  const signed = args.map((a) => a.startsWith('+') || a.startsWith('-'));
  if (signed.some(Boolean) && !signed.every(Boolean)) {
    throw new ArgError('either all options take + or - or none does');
  }
  const out: OptionsValue = { reset: !signed[0], on: [], off: [] };
  for (const a of args) {
    const sign = signed[0] ? a[0] : '+';
    const name = (signed[0] ? a.slice(1) : a).toLowerCase();
    const opt = OPTIONS[name];
    if (opt === undefined) throw new ArgError(`unknown option "${a}"`);
    if ((name === 'all' || name === 'none') && signed[0]) throw new ArgError(`"${a}" cannot take + or -`);
    if (opt === 'unsupported') {
      if (sign === '-') continue;
      throw new ArgError(`option ${a} is not supported`);
    }
    (sign === '+' ? out.on : out.off).push(...opt);
  }
  return out;
}

/** Handlers we can honour: a CGI, or the file itself. */
const HANDLERS = new Set(['cgi-script', 'default-handler']);
function handlerName(v: string): string {
  const h = v.toLowerCase();
  if (!HANDLERS.has(h)) throw new ArgError(`handler "${v}" is not supported (only cgi-script and default-handler)`);
  return h;
}

/** IPs, partial IPs (10.1), CIDR (10.1.0.0/16) and netmasks (10.1.0.0/255.255.0.0); no host names (they need DNS). */
export function parseNets(words: string[]): BlockList {
  const list = new BlockList();
  for (const w of words) {
    const [addr, bits] = w.split('/', 2);
    const family = isIP(addr);
    if (family === 0) {
      if (/^\d{1,3}(\.\d{1,3}){0,3}\.?$/.test(addr) && bits === undefined) {
        const parts = addr.replace(/\.$/, '').split('.');
        while (parts.length < 4) parts.push('0');
        list.addSubnet(parts.join('.'), 8 * addr.replace(/\.$/, '').split('.').length, 'ipv4');
        continue;
      }
      throw new ArgError(`"${w}" is not an IP address or network (host names need DNS lookups, which are not supported)`);
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) {
      list.addAddress(addr, type);
    } else if (/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128)) {
      list.addSubnet(addr, Number(bits), type);
    } else if (family === 4 && isIP(bits) === 4) {
      const mask = bits.split('.').reduce((n, o) => n * 256 + Number(o), 0);
      const prefix = mask.toString(2).padStart(32, '0');
      if (!/^1*0*$/.test(prefix)) throw new ArgError(`"${bits}" is not a contiguous netmask`);
      list.addSubnet(addr, prefix.indexOf('0') < 0 ? 32 : prefix.indexOf('0'), type);
    } else {
      throw new ArgError(`"${w}" is not a network`);
    }
  }
  return list;
}

function parseRequire(args: string[]): RequireRule {
  let words = count(args, 1, Infinity);
  let negate = false;
  if (words[0].toLowerCase() === 'not') {
    negate = true;
    words = words.slice(1);
    if (words.length === 0) throw new ArgError('"Require not" needs a condition');
  }
  const [kind, ...rest] = words;
  const k = kind.toLowerCase();
  const rule = (provider: RequireRule['provider'], names: string[] = []): RequireRule => ({ kind: 'require', negate, provider, names });
  switch (k) {
    case 'all': {
      const v = rest.map((r) => r.toLowerCase()).join(' ');
      if (v === 'granted' || v === 'denied') return rule(v === 'granted' ? 'all-granted' : 'all-denied');
      throw new ArgError('"Require all" takes granted or denied');
    }
    case 'valid-user':
      if (rest.length > 0) throw new ArgError('"Require valid-user" takes no names');
      return rule('valid-user');
    case 'user':
    case 'group':
      if (rest.length === 0) throw new ArgError(`"Require ${k}" needs at least one name`);
      return rule(k, rest);
    case 'ip':
      if (rest.length === 0) throw new ArgError('"Require ip" needs at least one address');
      return { ...rule('ip', rest), nets: parseNets(rest) };
    case 'local':
      return { ...rule('ip', []), nets: parseNets(['127.0.0.0/8', '::1']) };
    case 'method':
      if (rest.length === 0) throw new ArgError('"Require method" needs at least one method');
      return rule('method', rest.map((m) => m.toUpperCase()));
    default:
      throw new ArgError(`Require ${kind} is not supported`);
  }
}

function parseHosts(args: string[]): HostRule {
  const [from, ...rest] = count(args, 2, Infinity);
  if (from.toLowerCase() !== 'from') throw new ArgError('must be followed by "from"');
  if (rest.length === 1 && rest[0].toLowerCase() === 'all') return { all: true };
  if (rest.some((r) => /^env=/i.test(r))) throw new ArgError('env= conditions are not supported');
  return { all: false, nets: parseNets(rest) };
}

const UNITS: Record<string, number> = {
  year: 365 * 86400, month: 30 * 86400, week: 7 * 86400, day: 86400, hour: 3600, minute: 60, second: 1,
};

/** mod_expires' two syntaxes: "A3600" / "M86400", and "access plus 1 month 2 days". */
export function parseExpires(v: string): ExpiresRule {
  const short = /^([AM])(\d+)$/.exec(v);
  if (short) return { base: short[1] as 'A' | 'M', seconds: Number(short[2]) };
  const words = v.trim().toLowerCase().split(/\s+/);
  const base = words.shift();
  if (base !== 'access' && base !== 'now' && base !== 'modification') throw new ArgError(`bad expiry "${v}": starts with access, now or modification`);
  if (words[0] === 'plus') words.shift();
  if (words.length === 0 || words.length % 2 !== 0) throw new ArgError(`bad expiry "${v}": expected <number> <unit> pairs`);
  let seconds = 0;
  for (let i = 0; i < words.length; i += 2) {
    const unit = UNITS[words[i + 1].replace(/s$/, '')];
    if (!/^\d+$/.test(words[i]) || unit === undefined) throw new ArgError(`bad expiry "${v}" at "${words[i]} ${words[i + 1]}"`);
    seconds += Number(words[i]) * unit;
  }
  return { base: base === 'modification' ? 'M' : 'A', seconds };
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_ACTIONS = new Set(['set', 'append', 'add', 'unset', 'merge', 'setifempty']);

function parseHeader(args: string[]): HeaderRule {
  let words = args;
  let always = false;
  if (words[0] && /^(always|onsuccess)$/i.test(words[0])) {
    always = words[0].toLowerCase() === 'always';
    words = words.slice(1);
  }
  const action = words[0]?.toLowerCase();
  if (action === undefined || !HEADER_ACTIONS.has(action)) {
    throw new ArgError(`action "${words[0] ?? ''}" is not supported (set, append, add, unset, merge, setifempty)`);
  }
  const name = words[1];
  if (name === undefined || !HEADER_NAME.test(name)) throw new ArgError('needs a header name');
  const value = words[2] ?? '';
  if (action === 'unset' ? words.length !== 2 : words.length !== 3) {
    throw new ArgError(action === 'unset' ? 'Header unset takes only a name' : 'conditions (env=, expr=, early) are not supported');
  }
  if (/%[^%]/.test(value.replace(/%%/g, ''))) throw new ArgError('format specifiers (%t, %D, %{...}e) are not supported');
  if (/[\r\n\0]/.test(value)) throw new ArgError('header value holds a line break');
  return { always, action: action as HeaderRule['action'], name, value: value.replace(/%%/g, '%') };
}

const REDIRECT_STATUS: Record<string, number> = { permanent: 301, temp: 302, seeother: 303, gone: 410 };

function redirectStatus(words: string[]): { status: number; rest: string[] } {
  const first = words[0]?.toLowerCase() ?? '';
  if (REDIRECT_STATUS[first] !== undefined) return { status: REDIRECT_STATUS[first], rest: words.slice(1) };
  if (/^\d{3}$/.test(first)) {
    const status = Number(first);
    if (!(status >= 300 && status <= 399) && status !== 410) throw new ArgError(`status ${status} is not a redirect`);
    return { status, rest: words.slice(1) };
  }
  return { status: 302, rest: words };
}

function redirectTarget(status: number, to: string | undefined): string | undefined {
  if (status >= 300 && status <= 399) {
    if (to === undefined) throw new ArgError('needs a target URL');
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(to) && !to.startsWith('/')) throw new ArgError(`target "${to}" is neither a URL nor a path`);
    return to;
  }
  if (to !== undefined) throw new ArgError(`status ${status} takes no target URL`);
  return undefined;
}

function parseRedirect(args: string[], fixed?: number): RedirectRule {
  const { status, rest } = fixed === undefined ? redirectStatus(args) : { status: fixed, rest: args };
  const [from, to, extra] = rest;
  if (from === undefined || !from.startsWith('/') || extra !== undefined) throw new ArgError('takes [status] URL-path URL');
  return { status, prefix: from.replace(/\/+$/, '') || '/', to: redirectTarget(status, to) };
}

function parseRedirectMatch(args: string[]): RedirectRule {
  const { status, rest } = redirectStatus(args);
  const [pattern, to, extra] = rest;
  if (pattern === undefined || extra !== undefined) throw new ArgError('takes [status] regex URL');
  let regex: RegExp;
  try {
    regex = new RegExp(pattern);
  } catch (err) {
    throw new ArgError(`bad regular expression: ${(err as Error).message}`);
  }
  return { status, regex, to: redirectTarget(status, to) };
}

function parseErrorDocument(args: string[]): { status: number; doc: ErrorDocument } {
  const [code, ...rest] = count(args, 2, Infinity);
  const status = Number(code);
  if (!/^\d{3}$/.test(code) || status < 400 || status > 599) throw new ArgError(`"${code}" is not an error status (400-599)`);
  const value = rest.join(' ');
  if (value === 'default') return { status, doc: { kind: 'default', value } };
  if (rest.length === 1 && value.startsWith('/')) return { status, doc: { kind: 'path', value } };
  if (rest.length === 1 && /^https?:\/\//i.test(value)) return { status, doc: { kind: 'url', value } };
  return { status, doc: { kind: 'text', value } };
}

function absolutePath(args: string[]): string {
  const [p] = count(args, 1);
  if (!p.startsWith('/')) throw new ArgError(`"${p}" must be an absolute path (use /opt/... for files in a layer)`);
  return p;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
function envNames(args: string[]): string[] {
  count(args, 1, Infinity);
  for (const a of args) if (!ENV_NAME.test(a)) throw new ArgError(`"${a}" is not a variable name`);
  return args;
}

export interface AliasValue {
  url: string;
  dir: string;
}

function parseAlias(args: string[]): AliasValue {
  const [url, dir] = count(args, 2);
  if (!url.startsWith('/')) throw new ArgError(`URL-path "${url}" must start with /`);
  return { url: url.replace(/\/+$/, ''), dir: absolutePath([dir]) };
}

export const DIRECTIVES: Record<string, DirectiveSpec> = {
  // core
  options: {
    module: 'core', contexts: BOTH, parse: parseOptions,
    apply(c, v: OptionsValue) {
      if (v.reset) c.execCgi = c.indexes = c.followSymLinks = false;
      for (const o of v.on) c[o] = true;
      for (const o of v.off) c[o] = false;
    },
  },
  sethandler: {
    module: 'core', contexts: BOTH,
    parse: (a) => (count(a, 1)[0].toLowerCase() === 'none' ? 'none' : handlerName(a[0])),
    apply: (c, v: string) => void (c.setHandler = v),
  },
  forcetype: {
    module: 'core', contexts: BOTH,
    parse: (a) => (count(a, 1)[0].toLowerCase() === 'none' ? 'none' : mimeType(a[0])),
    apply: (c, v: string) => void (c.forceType = v === 'none' ? undefined : v),
  },
  defaulttype: {
    module: 'core', contexts: BOTH,
    parse: (a) => (count(a, 1)[0].toLowerCase() === 'none' ? 'none' : mimeType(a[0])),
    apply: (c, v: string) => void (c.defaultType = v === 'none' ? undefined : v),
  },
  adddefaultcharset: {
    module: 'core', contexts: BOTH,
    parse(a) {
      const v = count(a, 1)[0];
      if (/^on$/i.test(v)) return 'iso-8859-1';
      if (/^off$/i.test(v)) return 'off';
      if (!/^[A-Za-z0-9._:-]+$/.test(v)) throw new ArgError(`"${v}" is not a charset`);
      return v;
    },
    apply: (c, v: string) => void (c.defaultCharset = v === 'off' ? undefined : v),
  },
  errordocument: {
    module: 'core', contexts: BOTH, parse: parseErrorDocument,
    apply: (c, v: { status: number; doc: ErrorDocument }) => void c.errorDocuments.set(v.status, v.doc),
  },
  authtype: {
    module: 'mod_authn_core', contexts: BOTH,
    parse(a) {
      const v = count(a, 1)[0].toLowerCase();
      if (v !== 'basic' && v !== 'none') throw new ArgError(`AuthType ${a[0]} is not supported (only Basic)`);
      return v === 'basic' ? 'Basic' : 'None';
    },
    apply: (c, v: string) => void (c.authType = v === 'None' ? undefined : v),
  },
  authname: {
    module: 'mod_authn_core', contexts: BOTH,
    parse(a) {
      const v = count(a, 1, Infinity).join(' ');
      if (/["\\\r\n]/.test(v)) throw new ArgError('realm may not contain quotes, backslashes or line breaks');
      return v;
    },
    apply: (c, v: string) => void (c.authName = v),
  },
  authbasicprovider: {
    module: 'mod_auth_basic', contexts: BOTH,
    parse(a) {
      if (count(a, 1, Infinity).some((p) => p.toLowerCase() !== 'file')) throw new ArgError('only the "file" provider is supported');
      return 'file';
    },
    apply() {},
  },
  authuserfile: {
    module: 'mod_authn_file', contexts: BOTH, parse: absolutePath,
    apply: (c, v: string) => void (c.authUserFile = v),
  },
  authgroupfile: {
    module: 'mod_authz_groupfile', contexts: BOTH, parse: absolutePath,
    apply: (c, v: string) => void (c.authGroupFile = v),
  },
  require: { module: 'mod_authz_core', contexts: BOTH, access: true, parse: parseRequire },
  // mod_access_compat: Apache 2.2's host rules
  order: {
    module: 'mod_access_compat', contexts: BOTH, access: true,
    parse(a) {
      const v = count(a, 1, 2).join('').toLowerCase().replace(/\s/g, '');
      if (v !== 'deny,allow' && v !== 'allow,deny' && v !== 'mutual-failure') throw new ArgError(`unknown order "${a.join(' ')}"`);
      return v;
    },
    apply: (c, v: DirConfig['order']) => void (c.order = v),
  },
  allow: {
    module: 'mod_access_compat', contexts: BOTH, access: true, parse: parseHosts,
    apply: (c, v: HostRule, methods) => void c.allow.push({ ...v, methods }),
  },
  deny: {
    module: 'mod_access_compat', contexts: BOTH, access: true, parse: parseHosts,
    apply: (c, v: HostRule, methods) => void c.deny.push({ ...v, methods }),
  },
  satisfy: {
    module: 'mod_access_compat', contexts: BOTH, access: true,
    parse(a) {
      const v = count(a, 1)[0].toLowerCase();
      if (v !== 'all' && v !== 'any') throw new ArgError('must be All or Any');
      return v;
    },
    apply: (c, v: 'all' | 'any') => void (c.satisfy = v),
  },
  // mod_mime
  addhandler: {
    module: 'mod_mime', contexts: BOTH,
    parse: (a) => ({ handler: handlerName(count(a, 2, Infinity)[0]), exts: extensions(a.slice(1)) }),
    apply: (c, v: { handler: string; exts: string[] }) => v.exts.forEach((e) => c.handlers.set(e, v.handler)),
  },
  removehandler: {
    module: 'mod_mime', contexts: BOTH, parse: extensions,
    apply: (c, v: string[]) => v.forEach((e) => c.handlers.delete(e)),
  },
  addtype: {
    module: 'mod_mime', contexts: BOTH,
    parse: (a) => ({ type: mimeType(count(a, 2, Infinity)[0]), exts: extensions(a.slice(1)) }),
    apply: (c, v: { type: string; exts: string[] }) => v.exts.forEach((e) => c.types.set(e, v.type)),
  },
  addcharset: {
    module: 'mod_mime', contexts: BOTH,
    parse: (a) => ({ charset: count(a, 2, Infinity)[0], exts: extensions(a.slice(1)) }),
    apply: (c, v: { charset: string; exts: string[] }) => v.exts.forEach((e) => c.charsets.set(e, v.charset)),
  },
  addencoding: {
    module: 'mod_mime', contexts: BOTH,
    parse: (a) => ({ encoding: count(a, 2, Infinity)[0].replace(/^x-/i, '').toLowerCase(), exts: extensions(a.slice(1)) }),
    apply: (c, v: { encoding: string; exts: string[] }) => v.exts.forEach((e) => c.encodings.set(e, v.encoding)),
  },
  // mod_dir
  directoryindex: {
    module: 'mod_dir', contexts: BOTH,
    parse(a) {
      count(a, 1, Infinity);
      if (a.length === 1 && a[0].toLowerCase() === 'disabled') return [];
      for (const n of a) if (n.includes('/') || n.startsWith('.')) throw new ArgError(`index "${n}" must be a plain file name`);
      return a;
    },
    apply: (c, v: string[]) => void (c.directoryIndex = v),
  },
  // mod_alias
  redirect: { module: 'mod_alias', contexts: BOTH, parse: (a) => parseRedirect(a), apply: (c, v: RedirectRule) => void c.redirects.push(v) },
  redirectpermanent: { module: 'mod_alias', contexts: BOTH, parse: (a) => parseRedirect(a, 301), apply: (c, v: RedirectRule) => void c.redirects.push(v) },
  redirecttemp: { module: 'mod_alias', contexts: BOTH, parse: (a) => parseRedirect(a, 302), apply: (c, v: RedirectRule) => void c.redirects.push(v) },
  redirectmatch: { module: 'mod_alias', contexts: BOTH, parse: parseRedirectMatch, apply: (c, v: RedirectRule) => void c.redirects.push(v) },
  alias: { module: 'mod_alias', contexts: CONFIG, topLevel: true, parse: parseAlias },
  scriptalias: { module: 'mod_alias', contexts: CONFIG, topLevel: true, parse: parseAlias },
  // mod_headers
  header: { module: 'mod_headers', contexts: BOTH, parse: parseHeader, apply: (c, v: HeaderRule) => void c.headers.push(v) },
  // mod_expires
  expiresactive: { module: 'mod_expires', contexts: BOTH, parse: onOff, apply: (c, v: boolean) => void (c.expiresActive = v) },
  expiresbytype: {
    module: 'mod_expires', contexts: BOTH,
    parse: (a) => ({ type: mimeType(count(a, 2)[0]).toLowerCase(), rule: parseExpires(a[1]) }),
    apply: (c, v: { type: string; rule: ExpiresRule }) => void c.expiresByType.set(v.type, v.rule),
  },
  expiresdefault: {
    module: 'mod_expires', contexts: BOTH, parse: (a) => parseExpires(count(a, 1)[0]),
    apply: (c, v: ExpiresRule) => void (c.expiresDefault = v),
  },
  // mod_env
  setenv: {
    module: 'mod_env', contexts: BOTH,
    parse: (a) => ({ name: envNames(count(a, 1, 2).slice(0, 1))[0], value: a[1] ?? '' }),
    apply(c, v: { name: string; value: string }) {
      c.setEnv.set(v.name, v.value);
      c.unsetEnv.delete(v.name);
    },
  },
  unsetenv: {
    module: 'mod_env', contexts: BOTH, parse: envNames,
    apply: (c, v: string[]) => v.forEach((n) => (c.unsetEnv.add(n), c.setEnv.delete(n))),
  },
  passenv: { module: 'mod_env', contexts: BOTH, parse: envNames, apply: (c, v: string[]) => void c.passEnv.push(...v) },
  // mod_cgi
  cgipassauth: { module: 'core', contexts: BOTH, parse: onOff, apply: (c, v: boolean) => void (c.passAuth = v) },
};
