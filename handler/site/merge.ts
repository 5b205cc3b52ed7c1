/**
 * The configuration in force for one file: CGI_CONFIG's top level, then from
 * the root down to the file's directory each level's <Directory> sections and
 * `.htaccess`, then <DirectoryMatch>, then the <Files> sections that name the
 * file, as Apache merges them with AllowOverride All. A section holding Require
 * lines replaces the Require rules it inherits (AuthMerging Off).
 */
import { readFileSync, statSync } from 'node:fs';
import {
  DIRECTIVES, emptyDirConfig,
  type AuthzGroup, type DirConfig, type MethodFilter, type RequireRule,
} from './directives';
import { parseApacheConfig, type ApacheConfig, type ConfigNode, type Problem, type SectionNode } from './parse';

export interface DirectorySection {
  /** Real (or resolved) absolute path; for <DirectoryMatch> and wildcards, `regex` instead. */
  path?: string;
  regex?: RegExp;
  nodes: ConfigNode[];
}

export interface ServerConfig {
  top: ConfigNode[];
  directories: DirectorySection[];
}

export interface Effective {
  conf: DirConfig;
  /** Problems in any file on the way: the request fails closed. */
  problems: Problem[];
}

interface Cached {
  key: string;
  config: ApacheConfig;
}

const ACCESS_FILE = '.htaccess';

/** A merge and the `.htaccess` configurations it was made from, level by level. */
interface Merged {
  from: Array<ApacheConfig | undefined>;
  effective: Effective;
}

/** Parsed `.htaccess` files per warm instance, re-read when their inode, mtime or size changes. */
export class HtaccessCache {
  private readonly files = new Map<string, Cached>();
  /** Merges per directory and file name, reused while every `.htaccess` on the way is the same. */
  readonly merged = new Map<string, Merged>();

  load(dir: string): ApacheConfig | undefined {
    const file = `${dir}/${ACCESS_FILE}`;
    let key: string;
    try {
      const s = statSync(file, { throwIfNoEntry: false });
      if (s === undefined) {
        this.files.delete(dir);
        return undefined;
      }
      if (!s.isFile()) return broken(file, 'is not a regular file');
      key = `${s.ino}:${s.mtimeMs}:${s.size}`;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      return broken(file, `cannot be read (${code})`);
    }
    const hit = this.files.get(dir);
    if (hit !== undefined && hit.key === key) return hit.config;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      return broken(file, `cannot be read (${(err as NodeJS.ErrnoException).code})`);
    }
    const config = parseApacheConfig(text, file, 'htaccess');
    if (this.files.size > 1000) this.files.clear();
    this.files.set(dir, { key, config });
    return config;
  }
}

function broken(file: string, message: string): ApacheConfig {
  return { file, context: 'htaccess', nodes: [], problems: [{ file, line: 0, directive: ACCESS_FILE, message: `${file} ${message}` }] };
}

function group(node: SectionNode, methods: MethodFilter | undefined): AuthzGroup {
  const items = node.children.map((c) =>
    c.type === 'directive' ? (c.value as RequireRule) : group(c, undefined),
  );
  return { kind: node.name.slice('require'.length) as AuthzGroup['kind'], items, methods };
}

function walkNodes(
  conf: DirConfig,
  nodes: ConfigNode[],
  methods: MethodFilter | undefined,
  rules: Array<RequireRule | AuthzGroup>,
  files: SectionNode[],
): void {
  for (const node of nodes) {
    if (node.type === 'directive') {
      if (node.name === 'require') rules.push({ ...(node.value as RequireRule), methods });
      else DIRECTIVES[node.name].apply?.(conf, node.value, methods);
      continue;
    }
    switch (node.name) {
      case 'files':
      case 'filesmatch':
        files.push(node);
        break;
      case 'limit':
      case 'limitexcept':
        walkNodes(conf, node.children, { methods: new Set(node.args), except: node.name === 'limitexcept' }, rules, files);
        break;
      case 'requireany':
      case 'requireall':
      case 'requirenone':
        rules.push(group(node, methods));
        break;
      default:
        // <Directory> sections are placed by the merge, never applied where they stand.
        break;
    }
  }
}

/** Applies one section's directives (an .htaccess file, a <Directory>, a <Files>). */
function applyUnit(conf: DirConfig, nodes: ConfigNode[], files: SectionNode[]): void {
  const rules: Array<RequireRule | AuthzGroup> = [];
  walkNodes(conf, nodes, undefined, rules, files);
  if (rules.length > 0) conf.authz = { kind: 'any', items: rules };
}

/** Shell wildcards of <Files name> and <Directory /a/*>: '*' and '?' stay inside one path segment. */
export function wildcard(pattern: string): RegExp {
  let re = '';
  for (const ch of pattern) {
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[\\^$.|+(){}[\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function filesMatch(section: SectionNode, name: string | undefined): boolean {
  if (name === undefined) return false;
  if (section.regex !== undefined) return section.regex.test(name);
  return wildcard(section.args[0]).test(name);
}

const depth = (p: string) => (p === '/' ? 0 : p.split('/').length - 1);
const inside = (dir: string, p: string) => p === '/' || dir === p || dir.startsWith(p + '/');

/**
 * The merged configuration for `name` in `dir` (a real path), reading each
 * `.htaccess` from `chainRoot` down; `dir` must be `chainRoot` or below it.
 */
export function effectiveConfig(
  server: ServerConfig,
  cache: HtaccessCache,
  chainRoot: string,
  dir: string,
  name: string | undefined,
): Effective {
  const levels: string[] = [chainRoot];
  if (dir !== chainRoot) {
    for (const seg of dir.slice(chainRoot.length + (chainRoot === '/' ? 0 : 1)).split('/')) {
      levels.push(levels[levels.length - 1].replace(/\/$/, '') + '/' + seg);
    }
  }
  // Every level is looked at on every request (a file may have appeared); the merge itself only when one changed.
  const from = levels.map((level) => cache.load(level));
  const key = `${chainRoot}\0${dir}\0${name ?? ''}`;
  const hit = cache.merged.get(key);
  if (hit !== undefined && hit.from.length === from.length && hit.from.every((c, i) => c === from[i])) return hit.effective;

  const conf = emptyDirConfig();
  const files: SectionNode[] = [];
  const problems: Problem[] = [];
  applyUnit(conf, server.top, files);
  const sections = server.directories
    .filter((d) => d.path !== undefined && inside(dir, d.path))
    .sort((a, b) => depth(a.path!) - depth(b.path!));
  let next = 0;
  const sectionsUpTo = (d: number) => {
    while (next < sections.length && depth(sections[next].path!) <= d) applyUnit(conf, sections[next++].nodes, files);
  };
  sectionsUpTo(depth(chainRoot) - 1);
  for (const [i, level] of levels.entries()) {
    sectionsUpTo(depth(level));
    const ht = from[i];
    if (ht === undefined) continue;
    if (ht.problems.length > 0) problems.push(...ht.problems);
    else applyUnit(conf, ht.nodes, files);
  }
  sectionsUpTo(Infinity);
  for (const d of server.directories) if (d.regex !== undefined && d.regex.test(dir)) applyUnit(conf, d.nodes, files);
  for (const f of files) if (filesMatch(f, name)) applyUnit(conf, f.children, []);
  const effective = { conf, problems };
  if (cache.merged.size > 1000) cache.merged.clear();
  cache.merged.set(key, { from, effective });
  return effective;
}
