import { closeSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { basename, extname } from 'node:path';
import type { Config } from './config';

/**
 * What to execute for a script: the program itself, or an interpreter with the
 * script as its argument; or why it cannot be executed at all.
 */
export type Command = { file: string; args: string[]; error?: undefined } | { error: string };

const SHEBANG_MAX = 256;
const caches = new WeakMap<Config, Map<string, { key: string; command: Command }>>();
const CACHE_LIMIT = 512;

function exists(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
  } catch {
    return false;
  }
}

const ELF = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

export interface Shebang {
  interpreter: string;
  arg?: string;
  /** The line ends in CR: a file saved with Windows line endings. */
  cr: boolean;
}

/**
 * The file's first line when it is a `#!` line; 'binary' for an ELF program;
 * undefined for anything else, which the kernel cannot execute (and glibc's
 * execvp would hand to /bin/sh: a shell a request must never reach).
 */
export function readShebang(file: string): Shebang | 'binary' | undefined {
  const buf = Buffer.alloc(SHEBANG_MAX);
  let n = 0;
  const fd = openSync(file, 'r');
  try {
    n = readSync(fd, buf, 0, SHEBANG_MAX, 0);
  } finally {
    closeSync(fd);
  }
  if (n >= 4 && buf.subarray(0, 4).equals(ELF)) return 'binary';
  if (n < 3 || buf[0] !== 0x23 || buf[1] !== 0x21) return undefined;
  const end = buf.indexOf(0x0a);
  // Linux passes everything after the interpreter as one argument, as here.
  const first = buf.toString('latin1', 2, end < 0 || end > n ? n : end);
  const line = first.replace(/\r$/, '').trim();
  const m = /^(\S+)(?:\s+(.*))?$/.exec(line);
  if (!m) return undefined;
  return { interpreter: m[1], arg: m[2] === undefined ? undefined : m[2].trim(), cr: first.endsWith('\r') };
}

function onPath(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(':')) {
    if (dir !== '' && exists(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return undefined;
}

/**
 * The interpreter that will really run: the remap named in CGI_INTERPRETERS if it
 * exists, else the shebang's own if it exists, else one of the same name on PATH
 * (Lambda keeps Perl in /opt/bin, scripts say /usr/bin/perl).
 */
function locateInterpreter(config: Config, interpreter: string): string | undefined {
  const mapped = config.interpreterByPath.get(interpreter);
  if (mapped !== undefined && exists(mapped)) return mapped;
  if (exists(interpreter)) return interpreter;
  return onPath(basename(interpreter), config.passedEnv.PATH ?? '');
}

const missing = (interpreter: string): Command => ({
  error: `interpreter ${interpreter} not found, nor a remap of it (CGI_INTERPRETERS) or a ${basename(interpreter)} on PATH; for Perl, add a Perl layer`,
});

export function crlfMessage(shebang: Shebang): string {
  const name = shebang.arg === undefined ? shebang.interpreter : `${shebang.interpreter} ${shebang.arg}`;
  return `interpreter \`${name}\\r\` not found: the file has Windows line endings (CRLF); convert it to LF (dos2unix, or your editor's line-ending setting)`;
}

function commandFor(config: Config, file: string): Command {
  const byExt = config.interpreterByExt.get(extname(file).toLowerCase());
  if (byExt !== undefined) {
    const interpreter = locateInterpreter(config, byExt);
    return interpreter === undefined ? missing(byExt) : { file: interpreter, args: [file] };
  }
  const shebang = readShebang(file);
  if (shebang === 'binary') return { file, args: [] };
  if (shebang === undefined) return { error: 'exec format error: neither a #! script nor an ELF program' };
  const interpreter = locateInterpreter(config, shebang.interpreter);
  if (interpreter === undefined) {
    const command = missing(shebang.interpreter);
    return shebang.cr ? { error: `${command.error}; the file also has Windows line endings (CRLF)` } : command;
  }
  if (interpreter === shebang.interpreter) {
    // The kernel would look for an interpreter whose name ends in CR, and spawn would say only ENOENT.
    if (shebang.cr) return { error: crlfMessage(shebang) };
    return { file, args: [] };
  }
  return { file: interpreter, args: shebang.arg === undefined ? [file] : [shebang.arg, file] };
}

/** Resolves the command for a script, cached until the file changes. */
export function resolveCommand(config: Config, file: string, stats: Stats): Command {
  const key = `${stats.ino}:${stats.mtimeMs}:${stats.size}`;
  let cache = caches.get(config);
  if (cache === undefined) caches.set(config, (cache = new Map()));
  const hit = cache.get(file);
  if (hit !== undefined && hit.key === key) return hit.command;
  const command = commandFor(config, file);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(file, { key, command });
  return command;
}
