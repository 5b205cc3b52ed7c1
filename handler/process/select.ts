/**
 * The runner the gateway uses: the persistent Perl worker for Perl scripts it
 * can run exactly as `perl script` would, plain spawn for everything else and
 * whenever the worker is not there. Both give the same answer.
 */
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import type { Config } from '../config';
import { locateInterpreter } from '../interpreter';
import type { Logger } from '../log';
import type { CgiJob, CgiOutput, CgiRunner } from './runner';
import { rlimitFlags, SpawnRunner } from './spawn';
import { Supervisor, runOnServer, type PerlRequest, type ForkServer, type ServerSpec } from './worker';

const PERL_BINARY = /^perl(?:5(?:\.\d+)*)?$/;
/**
 * Read by perl once at start-up, so the worker runs only requests whose values
 * are the server's own (they come from configuration, so in practice all do).
 */
const STARTUP_VARIABLE = /^(?:PERL|LC_|LANG$|LANGUAGE$)/;
const PRECOMPILE_SCAN_LIMIT = 10_000;

/** Shell-style glob over a relative path: `*` and `?` stay within one segment, `**` crosses them. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      re += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

type Shebang = { interpreter?: string; switches?: string; refused?: true; modules?: string[] };
/** Enough of a script to see the modules it names at the top. */
const SCAN_BYTES = 64 * 1024;
const shebangs = new Map<string, { key: string; value: Shebang }>();

/** What the script's #! line means to perl: its interpreter, and the switches perl would honour. */
function shebangOf(file: string): Shebang {
  let key: string;
  try {
    const st = statSync(file);
    key = `${st.ino}:${st.mtimeMs}:${st.size}`;
  } catch {
    return { refused: true };
  }
  const hit = shebangs.get(file);
  if (hit?.key === key) return hit.value;
  const buf = Buffer.alloc(SCAN_BYTES);
  let n = 0;
  try {
    const fd = openSync(file, 'r');
    try {
      n = readSync(fd, buf, 0, buf.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return { refused: true };
  }
  const modules = [...buf.toString('latin1', 0, n).matchAll(/^\s*(?:use|require)\s+([A-Z][\w:]*)/gm)].map((m) => m[1]);
  let value: Shebang = { modules };
  if (n >= 2 && buf[0] === 0x23 && buf[1] === 0x21) {
    const end = buf.indexOf(0x0a);
    const line = buf.toString('latin1', 2, end < 0 || end > n ? n : end).replace(/\r$/, '').trim();
    const m = /^(\S+)\s*(.*)$/.exec(line);
    // Perl itself runs another interpreter named on a #! line without "perl".
    if (!m || !line.includes('perl')) value = { refused: true };
    else value = { interpreter: m[1], switches: m[2], modules };
  }
  if (shebangs.size > 512) shebangs.clear();
  shebangs.set(file, { key, value });
  return value;
}

/** The script, its -w and its words, when the worker can run the job as perl would; else undefined. */
export function perlRequestFor(job: CgiJob): (PerlRequest & { perl: string; modules: string[] }) | undefined {
  let perl: string;
  let script: string | undefined;
  let argv: string[];
  let cmdSwitches = '';
  if (PERL_BINARY.test(basename(job.file))) {
    perl = job.file;
    let i = 0;
    if (job.args[0] === '-w') {
      cmdSwitches = 'w';
      i = 1;
    }
    script = job.args[i];
    argv = job.args.slice(i + 1);
    if (script === undefined || script.startsWith('-')) return undefined;
  } else {
    script = job.file;
    argv = job.args;
    perl = '';
  }
  const sb = shebangOf(script);
  if (sb.refused) return undefined;
  if (perl === '') {
    // Executed directly: the kernel runs the #! interpreter, which must be Perl.
    if (sb.interpreter === undefined || !PERL_BINARY.test(basename(sb.interpreter))) return undefined;
    perl = sb.interpreter;
  }
  // Only -w can be given to a running perl; -T, -n, -p, -l, -a, -0, -i, -C, -s cannot.
  if (sb.switches !== undefined && sb.switches !== '' && sb.switches !== '-w') return undefined;
  const switches = cmdSwitches === 'w' || sb.switches === '-w' ? 'w' : '';
  return { perl, script, switches, argv, modules: sb.modules ?? [] };
}

/** A script's path as the exclude and precompile globs see it: relative to its root. */
function relativePath(config: Config, file: string): string {
  if (config.rootIsFile) return basename(file);
  for (const root of [config.root, config.rootReal, config.documentRoot, config.documentRootReal]) {
    if (root !== undefined && file.startsWith(root + '/')) return relative(root, file);
  }
  return file;
}

/** The worker's environment: PATH and the Perl start-up variables from configuration, nothing else. */
export function serverEnv(config: Config): Record<string, string> {
  const env: Record<string, string> = { PATH: config.passedEnv.PATH };
  for (const source of [config.passedEnv, config.fixedEnv]) {
    for (const [k, v] of Object.entries(source)) if (STARTUP_VARIABLE.test(k)) env[k] = v;
  }
  return env;
}

function envMatches(server: Record<string, string>, job: Record<string, string>): boolean {
  for (const k in server) if (k !== 'PATH' && job[k] !== server[k]) return false;
  for (const k in job) if (STARTUP_VARIABLE.test(k) && server[k] !== job[k]) return false;
  return true;
}

function findPrecompiled(config: Config, perl: string, globs: RegExp[]): string[] {
  if (globs.length === 0 || config.rootIsFile) return [];
  const found: string[] = [];
  let seen = 0;
  const walk = (dir: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (++seen > PRECOMPILE_SCAN_LIMIT) return;
      const path = join(dir, e.name);
      if (e.isDirectory() && depth < 8) walk(path, depth + 1);
      else if (e.isFile() || e.isSymbolicLink()) {
        const rel = relative(config.root, path);
        if (!globs.some((g) => g.test(rel))) continue;
        const sb = shebangOf(path);
        if (!sb.refused && (sb.switches ?? '') === '') found.push(path);
      }
    }
  };
  walk(config.root, 0);
  void perl;
  return found;
}

/** Workers shared by every handler in this process with the same Perl and configuration. */
const workers = new Map<string, Supervisor>();

function workerFor(spec: ServerSpec, log: Logger): Supervisor {
  const key = JSON.stringify(spec);
  let w = workers.get(key);
  if (w === undefined || w.disabled) workers.set(key, (w = new Supervisor(spec, log)));
  return w;
}

/** Stops every worker this process started (tests; a Lambda instance just dies). */
export async function shutdownPerlWorkers(): Promise<void> {
  const all = [...workers.values()];
  workers.clear();
  await Promise.all(all.map((w) => w.close()));
}

export class SelectingRunner implements CgiRunner {
  private readonly spawn: SpawnRunner;
  private readonly exclude: RegExp[];
  private readonly precompile: RegExp[];
  private readonly env: Record<string, string>;
  private readonly defaultPerl: string | undefined;
  private readonly byPerl = new Map<string, Supervisor>();
  private readonly preloaded: Set<string>;
  private readonly spawner: Supervisor | undefined;

  constructor(private readonly config: Config, private readonly log: Logger) {
    this.spawn = new SpawnRunner({ execShim: config.execShim, rlimits: config.rlimits });
    // Started now, off the request path: until it is ready, programs are spawned from Node.
    if (config.spawner !== undefined) {
      this.spawner = workerFor({
        perl: 'cgi-spawner', program: config.spawner, programArgs: rlimitFlags(config.rlimits),
        env: { PATH: config.passedEnv.PATH }, preload: [], precompile: [], maxRequests: Number.MAX_SAFE_INTEGER,
      }, log);
    }
    this.exclude = config.perlWorkerExclude.map(globToRegExp);
    this.precompile = config.perlPrecompile.map(globToRegExp);
    this.env = serverEnv(config);
    this.preloaded = new Set(config.perlPreload);
    // CGI_RLIMIT_* limits are set by cgi-exec on an exec: with any of them, every script is spawned.
    if (!config.perlWorker || config.execShim !== undefined) return;
    // Started now, off the request path: until it is ready, requests spawn.
    this.defaultPerl = locateInterpreter(config, '/usr/bin/perl');
    if (this.defaultPerl !== undefined) this.workerFor(this.defaultPerl);
  }

  private workerFor(perl: string): Supervisor {
    let w = this.byPerl.get(perl);
    if (w === undefined || w.disabled) {
      w = workerFor({
        perl,
        env: this.env,
        preload: this.config.perlPreload,
        precompile: findPrecompiled(this.config, perl, this.precompile),
        maxRequests: this.config.perlWorkerMaxRequests,
      }, this.log);
      this.byPerl.set(perl, w);
    }
    return w;
  }

  /** Resolves when the worker for the default Perl is ready (true) or could not start (false). */
  whenReady(): Promise<boolean> {
    if (this.defaultPerl === undefined) return Promise.resolve(false);
    return this.byPerl.get(this.defaultPerl)?.whenReady() ?? Promise.resolve(false);
  }

  /** Resolves when cgi-spawner is ready (true) or could not start or is off (false). */
  spawnerReady(): Promise<boolean> {
    return this.spawner?.current?.ready ?? Promise.resolve(false);
  }

  /** Pid of the cgi-spawner now serving, if any (tests and diagnostics). */
  spawnerPid(): number | undefined {
    return this.spawner?.current?.pid;
  }

  /** Pids of the servers currently serving (tests and diagnostics). */
  workerPids(): number[] {
    return [...this.byPerl.values()].map((w) => w.current?.pid).filter((p): p is number => p !== undefined);
  }

  run(job: CgiJob): Promise<CgiOutput> {
    const onWorker = (this.config.perlWorker && this.config.execShim === undefined ? this.tryWorker(job) : undefined) ?? this.trySpawner(job);
    if (onWorker === undefined) return this.spawn.run(job);
    return onWorker.then((out) => out ?? this.spawn.run(job));
  }

  /** Any program by an absolute path, exec'd from cgi-spawner when it is ready. */
  private trySpawner(job: CgiJob): Promise<CgiOutput | undefined> | undefined {
    if (this.spawner === undefined || !job.file.startsWith('/')) return undefined;
    const server = this.spawner.usable();
    if (server === undefined) return undefined;
    return runOnServer(server, server.socket, job, { script: job.file, switches: '', argv: job.args });
  }

  /** The job on the worker, or undefined when it is not for the worker (decided without waiting). */
  private tryWorker(job: CgiJob): Promise<CgiOutput | undefined> | undefined {
    const req = perlRequestFor(job);
    if (req === undefined) return undefined;
    if (this.exclude.some((g) => g.test(relativePath(this.config, req.script)))) return undefined;
    if (!envMatches(this.env, job.env)) return undefined;
    const server = this.workerFor(req.perl).usable();
    if (server === undefined) return undefined;
    return runOnServer(server, server.zygotes.get(req.script) ?? this.socketFor(server, req.modules), job, req);
  }

  /** A script that names no preloaded module runs faster from the bare zygote (a smaller fork, a cheaper exit). */
  private socketFor(server: ForkServer, modules: string[]): string {
    if (server.bareSocket === undefined || modules.some((m) => this.preloaded.has(m))) return server.socket;
    return server.bareSocket;
  }
}

/** The runner for a gateway (with the worker off, it only spawns). */
export function createRunner(config: Config, log: Logger): SelectingRunner {
  return new SelectingRunner(config, log);
}
