/**
 * The site checker: what would go wrong on Lambda, found in the site layer's
 * folder before it is deployed. The rules come from the handler where it defines
 * them (settings and path mapping: config.ts; shebangs: interpreter.ts; start-up
 * checks: startup.ts; Apache syntax and the directives we honour: site/parse.ts),
 * and from what Lambda's nodejs22.x image holds (lambda-image.ts).
 */
import { lstatSync, readdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { ConfigError, loadConfig, type Config } from '../../handler/config';
import { readShebang, type Shebang } from '../../handler/interpreter';
import { emptyDirConfig, DIRECTIVES, type DirConfig } from '../../handler/site/directives';
import { parseApacheConfig, type ApacheConfig, type ConfigNode } from '../../handler/site/parse';
import { startupProblems } from '../../handler/startup';
import { compareVersions, EM_AARCH64, EM_X86_64, highestVersion, isElf, machineName, readElf } from './elf';
import {
  AL2023_GLIBC, AL2023_GLIBCXX, AL2023_LIBRARIES, AL2023_PROGRAMS, LAMBDA_LAYER_LIMIT_BYTES, LAMBDA_LIBRARY_DIRS, LAMBDA_PATH,
} from './lambda-image';

export interface Finding {
  level: 'error' | 'warning';
  /** A short name of the rule, stable for machines: exec-bit, crlf, interpreter, ... */
  check: string;
  /** Relative to the working directory when inside it. */
  file: string;
  line?: number;
  message: string;
  fix: string;
  /** Other files with the very same problem (one missing layer, many scripts). */
  also?: string[];
}

export interface CheckOptions {
  /** The folder packaged as the site layer and mounted at /opt. */
  layerDir: string;
  /** The function's settings (CGI_*), as serverless.yml's provider.environment gives them. */
  env: Record<string, string | undefined>;
  architecture: 'x86_64' | 'arm64';
  /** Other layers of the function (ARNs): one with "perl" in its name provides /opt/bin/perl. */
  layers: string[];
  /** Paths under layerDir that packaging leaves out (serverless.yml's `!cgi-src/**`). */
  exclude: string[];
}

export interface CheckReport {
  errors: Finding[];
  warnings: Finding[];
  /** Unzipped size of what the layer packages. */
  layerBytes: number;
}

/** serverless.yml's defaults, for settings the caller leaves out. */
export const SERVERLESS_DEFAULTS: Record<string, string> = { CGI_INTERPRETERS: '/usr/bin/perl=/opt/bin/perl' };
export const DEFAULT_EXCLUDE = ['cgi-src', 'README.md'];

const SCRIPT_TEXT_MAX = 1024 * 1024;

class Checker {
  readonly findings: Finding[] = [];
  readonly layerDir: string;
  /** The handler's own configuration, with /opt read from layerDir, as under serverless-offline. */
  config: Config | undefined;
  private perlLayer: boolean;
  private otherLayers: boolean;
  private writable: string[];

  constructor(readonly opts: CheckOptions) {
    this.layerDir = resolve(opts.layerDir);
    this.perlLayer = opts.layers.some((l) => /perl/i.test(l));
    this.otherLayers = opts.layers.some((l) => !/perl/i.test(l));
    this.writable = (opts.env.CGI_WRITABLE ?? '').split(/[,\s]+/).filter(Boolean).map((w) => w.replace(/\/+$/, ''));
  }

  report(level: Finding['level'], check: string, file: string, message: string, fix: string, line?: number): void {
    if (line === undefined) {
      const same = this.findings.find((f) => f.level === level && f.check === check && f.message === message && f.fix === fix);
      if (same !== undefined) {
        (same.also ??= []).push(display(file));
        return;
      }
    }
    this.findings.push({ level, check, file: display(file), ...(line === undefined ? {} : { line }), message, fix });
  }

  /** A path as the function sees it (/opt/...) to the file in the layer folder; undefined outside /opt. */
  local(path: string): string | undefined {
    if (path === '/opt') return this.layerDir;
    return path.startsWith('/opt/') ? join(this.layerDir, path.slice(5)) : undefined;
  }

  /** The path the function sees for a file of the layer folder. */
  lambdaPath(file: string): string {
    const rel = relative(this.layerDir, file);
    return rel.startsWith('..') || isAbsolute(rel) ? file : rel === '' ? '/opt' : `/opt/${rel}`;
  }

  /** Whether a path relative to the layer root is inside a CGI_WRITABLE directory. */
  writableCovers(rel: string): boolean {
    return this.writable.some((w) => rel === w || rel.startsWith(w + '/'));
  }

  /** Whether Lambda will have this file: the image's, this layer's, or the Perl layer's /opt/bin/perl. */
  lambdaHas(path: string): 'yes' | 'no' | 'maybe' {
    const local = this.local(path);
    if (local === undefined) return AL2023_PROGRAMS.has(path) ? 'yes' : 'no';
    if (isFile(local)) return 'yes';
    if (this.perlLayer && path === '/opt/bin/perl') return 'yes';
    return this.otherLayers ? 'maybe' : 'no';
  }

  loadConfig(): void {
    const env: Record<string, string | undefined> = { ...SERVERLESS_DEFAULTS, ...this.opts.env, IS_OFFLINE: 'true', CGI_OFFLINE_LAYER_DIR: this.layerDir };
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    try {
      this.config = loadConfig(env);
    } catch (err) {
      const what = err instanceof ConfigError ? err.message : String(err);
      this.report('error', 'config', 'serverless.yml', `the function's settings are invalid: ${what}`, 'correct the setting in provider.environment');
      return;
    }
    for (const problem of startupProblems(this.config)) {
      this.report('warning', 'config', this.layerDir, problem.replace(this.layerDir, '/opt'), 'create the directory in the layer folder, or correct the setting in serverless.yml');
    }
  }
}

function display(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

function isFile(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
  } catch {
    return false;
  }
}

function isDir(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
  } catch {
    return false;
  }
}

/** A directory's entries in name order, not following links; none when it cannot be read. */
function listDir(dir: string): Array<{ name: string; file: string; stats: Stats }> {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  return names.map((name) => ({ name, file: join(dir, name), stats: lstatSync(join(dir, name)) }));
}

/** Every regular file below dir (symlinks not followed), dotted directories skipped. */
function* walk(dir: string): Generator<{ file: string; stats: Stats }> {
  for (const { name, file, stats } of listDir(dir)) {
    if (stats.isDirectory()) {
      if (!name.startsWith('.')) yield* walk(file);
    } else if (stats.isFile()) yield { file, stats };
  }
}

// ---- programs: exec bits, shebangs, interpreters, ELF --------------------------------------------

/** What to tell a user whose interpreter Lambda does not have. */
function interpreterFix(interpreter: string, remap: string | undefined): string {
  const name = basename(interpreter);
  if (/^perl/.test(name)) {
    return remap === undefined
      ? `add a Perl layer (--param="perlLayer=<arn>", README: Perl on Lambda) and CGI_INTERPRETERS=${interpreter}=/opt/bin/perl`
      : `add a Perl layer that provides ${remap}: --param="perlLayer=<arn>" (README: Perl on Lambda)`;
  }
  if (/^python/.test(name)) {
    return `Lambda's Node.js image has no Python: add a layer with Python at /opt/bin/python3 and CGI_INTERPRETERS=${interpreter}=/opt/bin/python3`;
  }
  if (/^php/.test(name)) {
    return `Lambda's Node.js image has no PHP: add a layer that provides /opt/bin/php-cgi and CGI_INTERPRETERS=${interpreter}=/opt/bin/php-cgi`;
  }
  return `ship ${name} in the layer (layers/bin/${name} is /opt/bin/${name}, on Lambda's PATH) or remap it: CGI_INTERPRETERS=${interpreter}=/opt/bin/${name}`;
}

function checkInterpreter(c: Checker, file: string, shebang: Shebang): boolean {
  const config = c.config!;
  const remap = config.interpreterByPath.get(shebang.interpreter);
  const remapLambda = remap === undefined ? undefined : c.lambdaPath(remap);
  const candidates = [remapLambda, shebang.interpreter].filter((p): p is string => p !== undefined);
  let found = candidates.map((p) => c.lambdaHas(p)).find((r) => r !== 'no');
  // `#!/usr/bin/env perl` asks env to search PATH; a missing interpreter is searched by name too.
  const envName = basename(shebang.interpreter) === 'env' && c.lambdaHas(shebang.interpreter) === 'yes' ? shebang.arg?.split(/\s+/)[0] : undefined;
  const byName = envName ?? basename(shebang.interpreter);
  if (envName !== undefined) found = undefined;
  if (found === undefined) found = LAMBDA_PATH.map((d) => c.lambdaHas(`${d}/${byName}`)).find((r) => r !== 'no');
  const shown = envName === undefined ? shebang.interpreter : `${shebang.interpreter} ${envName}`;
  const fix = interpreterFix(envName ?? shebang.interpreter, remapLambda);
  if (found === undefined && remapLambda?.startsWith('/opt/') && envName === undefined) {
    // A remap into /opt says a layer is meant to bring it: which layers the function gets is not in the folder.
    c.report('warning', 'interpreter', file, `interpreter ${shebang.interpreter} is remapped to ${remapLambda}, which no layer given to the checker provides: without it the script answers 500`, fix);
    return false;
  }
  if (found === undefined) {
    const where = shebang.interpreter.startsWith('/usr/local/') ? " (Lambda's image has nothing in /usr/local)" : '';
    const remapped = remapLambda === undefined ? ', and CGI_INTERPRETERS does not remap it' : `, nor ${remapLambda} (its CGI_INTERPRETERS remap)`;
    c.report('error', 'interpreter', file, `interpreter ${shown} does not exist on Lambda's Amazon Linux 2023 Node.js image${where}${remapped}`, fix);
    return false;
  }
  if (found === 'maybe') {
    c.report('warning', 'interpreter', file, `interpreter ${shown} is not on Lambda's image nor in this layer; one of the function's other layers must provide it`, fix);
  }
  return true;
}

function checkElf(c: Checker, file: string): void {
  const info = readElf(file);
  if (info === undefined) {
    c.report('error', 'elf', file, 'an ELF file whose headers cannot be read', 'rebuild it');
    return;
  }
  const want = c.opts.architecture === 'arm64' ? EM_AARCH64 : EM_X86_64;
  if (info.machine !== want) {
    c.report('error', 'architecture', file, `built for ${machineName(info.machine)}, but the function is ${c.opts.architecture}`,
      info.machine === EM_AARCH64 || info.machine === EM_X86_64
        ? `rebuild it for ${c.opts.architecture}, or deploy with --param="architecture=${info.machine === EM_AARCH64 ? 'arm64' : 'x86_64'}"`
        : `rebuild it as a 64-bit ${c.opts.architecture} program`);
    return;
  }
  const glibc = highestVersion(info, 'GLIBC');
  if (glibc !== undefined && compareVersions(glibc.parts, AL2023_GLIBC) > 0) {
    c.report('error', 'glibc', file, `needs ${glibc.name}, newer than Lambda's glibc ${AL2023_GLIBC.join('.')} (Amazon Linux 2023)`,
      'build it on Amazon Linux 2023 or in public.ecr.aws/lambda/nodejs:22, or link it statically (-static)');
  }
  const cxx = highestVersion(info, 'GLIBCXX');
  if (cxx !== undefined && compareVersions(cxx.parts, AL2023_GLIBCXX) > 0) {
    c.report('error', 'glibc', file, `needs ${cxx.name}, newer than Lambda's libstdc++ (GLIBCXX_${AL2023_GLIBCXX.join('.')}, GCC 11)`,
      'build it on Amazon Linux 2023, or link libstdc++ statically (-static-libstdc++)');
  }
  for (const lib of info.needed) {
    if (AL2023_LIBRARIES.has(lib)) continue;
    if (LAMBDA_LIBRARY_DIRS.some((d) => c.local(d) !== undefined && isFile(join(c.local(d)!, lib)))) continue;
    c.report('warning', 'library', file, `needs ${lib}, which is not among the Amazon Linux 2023 base libraries this checker knows`,
      `ship ${lib} (built for Amazon Linux 2023) in layers/lib/ (/opt/lib is on Lambda's LD_LIBRARY_PATH), or link it statically`);
  }
}

/** `open(F, ">data.txt")`, `open my $fh, '>>', 'log'`, `fopen("x", "w")`, `open('x', 'a')`, `echo x >> file`. */
const WRITES: Array<{ re: RegExp; target: number; how: number | string }> = [
  { re: /\bopen\s*\(?\s*(?:my\s+)?[$\w:]+\s*,\s*(["'])\s*(>>?|\+<|\+>)\s*([^"'$@>&\s][^"'$@]*?)\s*\1/, target: 3, how: 2 },
  { re: /\bopen\s*\(?\s*(?:my\s+)?[$\w:]+\s*,\s*(["'])(>>?|\+<|\+>)\1\s*,\s*(["'])([^"'$@]+)\3/, target: 4, how: 2 },
  { re: /\bfopen\s*\(\s*(["'])([^"'$]+)\1\s*,\s*["']([wax][+b]*|r\+b?)["']/, target: 2, how: 3 },
  { re: /\bfile_put_contents\s*\(\s*(["'])([^"'$]+)\1/, target: 2, how: 'file_put_contents' },
  { re: /\bopen\s*\(\s*(["'])([^"'{}]+)\1\s*,\s*["']([wax][+b]*)["']/, target: 2, how: 3 },
];
const SHELL_WRITE = /(?:^|[\s;|&])(>>?)\s*([A-Za-z0-9_./-]+)\s*(?:[;&|#]|$)/;
const SHELLS = new Set(['sh', 'bash', 'dash', 'ksh', 'zsh']);

function checkWrites(c: Checker, file: string, shebang: Shebang | undefined): void {
  let text: string;
  try {
    const stats = statSync(file);
    if (stats.size > SCRIPT_TEXT_MAX) return;
    text = readFileSync(file, 'latin1');
  } catch {
    return;
  }
  const shell = shebang !== undefined && SHELLS.has(basename(shebang.interpreter));
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^\s*#/.test(line) && i > 0) continue;
    let target: string | undefined;
    let how = '';
    for (const w of WRITES) {
      const m = w.re.exec(line);
      if (m) {
        target = m[w.target];
        how = typeof w.how === 'number' ? m[w.how] : w.how;
        break;
      }
    }
    if (target === undefined && shell) {
      const m = SHELL_WRITE.exec(line);
      if (m) [how, target] = [m[1], m[2]];
    }
    if (target === undefined) continue;
    // Scripts run in their own directory: a relative name is a file beside them.
    const lambdaTarget = target.startsWith('/') ? target : join(dirname(c.lambdaPath(file)), target);
    if (!lambdaTarget.startsWith('/opt/')) continue;
    const rel = lambdaTarget.slice(5);
    if (c.writableCovers(rel)) continue;
    const dir = dirname(rel);
    c.report('warning', 'writes', file, `writes ${target} (${how}), inside the layer, which is read-only on Lambda (${lambdaTarget})`,
      `declare its directory writable: CGI_WRITABLE=${dir === '.' ? rel : dir} (README: Writable data), or write under /tmp`, i + 1);
  }
}

function checkProgram(c: Checker, file: string, stats: Stats, why: string): void {
  const config = c.config!;
  const byExt = config.interpreterByExt.get(extname(file).toLowerCase());
  let head: Buffer;
  try {
    head = readFileSync(file).subarray(0, 4);
  } catch (err) {
    c.report('error', 'unreadable', file, `cannot be read: ${(err as Error).message}`, `chmod a+r ${display(file)}`);
    return;
  }
  if (byExt !== undefined) {
    const target = c.lambdaPath(byExt);
    if (c.lambdaHas(target) === 'no') {
      c.report('error', 'interpreter', file, `runs through ${target} (CGI_INTERPRETERS ${extname(file)}), which Lambda will not have`, interpreterFix(target, undefined));
    }
  } else if ((stats.mode & 0o111) === 0) {
    c.report('error', 'exec-bit', file, `${why}, but not executable: it would answer 403`, `chmod +x ${display(file)}`);
  }
  if (isElf(head)) {
    checkElf(c, file);
    return;
  }
  const shebang = readShebang(file);
  if (shebang === 'binary') return;
  if (shebang === undefined) {
    if (byExt === undefined) c.report('error', 'shebang', file, `${why}, but neither a #! script nor an ELF program: it would answer 500`, 'start it with a #! line naming its interpreter');
    checkWrites(c, file, undefined);
    return;
  }
  if (byExt === undefined) {
    if (shebang.cr) {
      const remapped = config.interpreterByPath.has(shebang.interpreter);
      c.report(remapped ? 'warning' : 'error', 'crlf', file,
        `its #! line ends in CR (Windows line endings)${remapped ? '; it runs only while its interpreter is remapped' : `: the kernel looks for \`${shebang.interpreter}\\r\` and it answers 500`}`,
        `convert it to LF line endings: sed -i 's/\\r$//' ${display(file)} (or dos2unix)`, 1);
    }
    checkInterpreter(c, file, shebang);
  }
  checkWrites(c, file, shebang);
}

function looksLikeProgram(file: string, config: Config): boolean {
  if (config.interpreterByExt.has(extname(file).toLowerCase()) || extname(file).toLowerCase() === '.cgi') return true;
  try {
    const fd = readFileSync(file).subarray(0, 4);
    return isElf(fd) || (fd[0] === 0x23 && fd[1] === 0x21);
  } catch {
    return true;
  }
}

// ---- Apache configuration: .htaccess, CGI_CONFIG --------------------------------------------------

function parseFile(c: Checker, file: string, context: 'htaccess' | 'config'): ApacheConfig | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    c.report('error', 'config', file, `cannot be read: ${(err as Error).message}`, 'make it readable');
    return undefined;
  }
  const parsed = parseApacheConfig(text, c.lambdaPath(file), context);
  for (const p of parsed.problems) {
    c.report('error', 'htaccess', file, `${p.directive}: ${p.message}; the handler answers 500 for this directory`, 'remove the directive or rewrite it with what README: Site configuration lists', p.line);
  }
  checkAuthFiles(c, file, parsed.nodes);
  return parsed;
}

function checkAuthFiles(c: Checker, file: string, nodes: ConfigNode[]): void {
  for (const node of nodes) {
    if (node.type === 'section') {
      checkAuthFiles(c, file, node.children);
      continue;
    }
    if (node.name !== 'authuserfile' && node.name !== 'authgroupfile') continue;
    const path = node.value as string;
    const local = c.local(path);
    if (local === undefined) {
      c.report('error', 'auth-file', file, `${node.spelled} ${path} is outside the layer: on Lambda only /opt holds the site`,
        `copy it into the layer (layers/etc/${basename(path)}) and write ${node.spelled} /opt/etc/${basename(path)}`, node.line);
    } else if (!isFile(local)) {
      c.report('error', 'auth-file', file, `${node.spelled} ${path} does not exist in the layer (${display(local)})`,
        `create it (htpasswd -c ${display(local)} USER) or correct the path`, node.line);
    }
  }
}

/** What a directory's directives make of its parent's: only the fields the checker reads are inherited. */
function applyDirectives(conf: DirConfig, nodes: ConfigNode[]): DirConfig {
  const out = emptyDirConfig();
  out.execCgi = conf.execCgi;
  out.handlers = new Map(conf.handlers);
  out.setHandler = conf.setHandler;
  for (const node of nodes) {
    if (node.type !== 'directive') continue;
    DIRECTIVES[node.name]?.apply?.(out, node.value, undefined);
  }
  return out;
}

/** `<Directory /opt/x>` sections of CGI_CONFIG, by the local directory they name. */
function directorySections(c: Checker, config: ApacheConfig | undefined): Map<string, ConfigNode[]> {
  const out = new Map<string, ConfigNode[]>();
  for (const node of config?.nodes ?? []) {
    if (node.type !== 'section' || node.name !== 'directory') continue;
    const local = c.local(node.args[0].replace(/\/+$/, ''));
    if (local !== undefined) out.set(local, [...(out.get(local) ?? []), ...node.children]);
  }
  return out;
}

/**
 * The document root as Apache would see it: per directory, CGI_CONFIG's <Directory>
 * then the .htaccess files from the top down; where ExecCGI is on, files with a
 * cgi-script extension are programs.
 */
function checkTree(c: Checker, dir: string, conf: DirConfig, sections: Map<string, ConfigNode[]>, seen: Set<string>): void {
  let here = conf;
  const fromConfig = sections.get(dir);
  if (fromConfig !== undefined) here = applyDirectives(here, fromConfig);
  const htaccess = join(dir, '.htaccess');
  if (isFile(htaccess)) {
    const parsed = parseFile(c, htaccess, 'htaccess');
    if (parsed !== undefined) here = applyDirectives(here, parsed.nodes);
  }
  for (const { name, file, stats } of listDir(dir)) {
    if (stats.isDirectory() && !name.startsWith('.')) checkTree(c, file, here, sections, seen);
    if (!stats.isFile() || name.startsWith('.') || seen.has(file)) continue;
    const ext = extname(name).slice(1).toLowerCase();
    const handler = here.setHandler ?? (ext === '' ? undefined : here.handlers.get(ext));
    if (here.execCgi && handler === 'cgi-script') {
      seen.add(file);
      checkProgram(c, file, stats, `a CGI program (AddHandler cgi-script .${ext} with Options ExecCGI)`);
    }
  }
}

// ---- the whole site ---------------------------------------------------------------------------------

function layerSize(c: Checker): number {
  let total = 0;
  const excluded = c.opts.exclude.map((e) => join(c.layerDir, e));
  const count = (dir: string) => {
    for (const { file, stats } of listDir(dir)) {
      if (excluded.includes(file)) continue;
      if (stats.isDirectory()) count(file);
      else total += stats.size;
    }
  };
  count(c.layerDir);
  return total;
}

export function checkSite(opts: CheckOptions): CheckReport {
  const c = new Checker(opts);
  if (!isDir(c.layerDir)) {
    c.report('error', 'config', c.layerDir, 'the layer folder does not exist', 'pass the folder serverless.yml packages as the site layer (layers/)');
    return { errors: c.findings, warnings: [], layerBytes: 0 };
  }
  c.loadConfig();
  const config = c.config;
  if (config !== undefined) {
    const seen = new Set<string>();
    // CGI_CONFIG (the site engineer's server-level configuration file), when there is one.
    let serverConfig: ApacheConfig | undefined;
    const configPath = opts.env.CGI_CONFIG;
    if (configPath) {
      const local = c.local(configPath) ?? configPath;
      if (isFile(local)) serverConfig = parseFile(c, local, 'config');
      else c.report('error', 'config', local, `CGI_CONFIG ${configPath} does not exist`, 'create it in the layer folder or correct CGI_CONFIG');
    }
    const scriptDirs = config.rootIsFile ? [] : [config.root];
    for (const node of serverConfig?.nodes ?? []) {
      if (node.type === 'directive' && node.name === 'scriptalias') {
        const dir = (node.value as { dir: string }).dir;
        const local = c.local(dir);
        if (local === undefined || !isDir(local)) {
          c.report('error', 'config', serverConfig!.file, `ScriptAlias ${dir} is not a directory of the layer`, 'create it or correct the ScriptAlias', node.line);
        } else scriptDirs.push(local);
      }
    }
    if (config.rootIsFile) {
      seen.add(config.root);
      checkProgram(c, config.root, statSync(config.root), 'CGI_ROOT, the front controller');
    }
    for (const dir of scriptDirs) {
      if (!isDir(dir)) continue;
      for (const { file, stats } of walk(dir)) {
        if (seen.has(file)) continue;
        if (basename(file) === '.htaccess') continue;
        if (basename(file).startsWith('.') || !looksLikeProgram(file, config)) continue;
        seen.add(file);
        checkProgram(c, file, stats, 'a program in a CGI directory');
      }
    }
    const sections = directorySections(c, serverConfig);
    // .htaccess below the script directories count too (auth, ErrorDocument).
    for (const dir of scriptDirs) if (isDir(dir)) checkTree(c, dir, emptyDirConfig(), sections, seen);
    if (config.serveStatic && isDir(config.documentRoot) && !scriptDirs.some((d) => config.documentRoot.startsWith(d + '/') || d === config.documentRoot)) {
      checkTree(c, config.documentRoot, emptyDirConfig(), sections, seen);
    }
  }
  const layerBytes = layerSize(c);
  if (layerBytes > LAMBDA_LAYER_LIMIT_BYTES) {
    c.report('error', 'size', c.layerDir, `the layer is ${mb(layerBytes)} unzipped; Lambda allows 250 MB for the function and all its layers together`,
      'move large data out of the layer (S3, or EFS through CGI_WRITABLE), or exclude files from the layer in serverless.yml');
  }
  return {
    errors: c.findings.filter((f) => f.level === 'error'),
    warnings: c.findings.filter((f) => f.level === 'warning'),
    layerBytes,
  };
}

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function formatFinding(f: Finding): string {
  const also = f.also === undefined ? '' : ` [also ${f.also.join(', ')}]`;
  return `${f.level}: ${f.file}${f.line === undefined ? '' : `:${f.line}`}: ${f.message}${also} (fix: ${f.fix})`;
}
