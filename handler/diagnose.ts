import { realpathSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { ParseResult } from './cgi-response';
import type { Config } from './config';
import type { CgiOutput } from './process/runner';

/**
 * Why a script failed, when its stderr shows the commonest reason a site moved
 * to Lambda fails: it writes next to itself, and the layer under /opt is
 * read-only. Apache sites did this everywhere (counters, guestbooks, session
 * files, logs); the generic 500 would not say so.
 */

/** The error texts of libc's strerror (Perl's $!, PHP, C's perror), Node's codes, and dash's own wording. */
const READ_ONLY = /Read-only file system|\bEROFS\b|attempt to write a readonly database/;
const DENIED = /Permission denied|\bEACCES\b/;
const MISSING = /No such file or directory|\bENOENT\b|Directory nonexistent/;
const REASONS = /:\s*(?:Read-only file system|Permission denied|No such file or directory|Directory nonexistent)/;

/**
 * The path a stderr line complains about: the word right before the error text
 * ("cannot write data/x.txt: Read-only file system", dash's "cannot create x:"),
 * else the first absolute path in the line (PHP's "fopen(/opt/x): Failed to open stream: ...").
 */
export function pathInLine(line: string): string | undefined {
  const before = line.split(REASONS)[0];
  const last = before.trim().split(/\s+/).pop()?.replace(/^['"`(]+|['"`)]+$/g, '');
  if (before !== line && last !== undefined && last.includes('/')) return last;
  return /(?:^|[\s'"`(=])(\/[^\s'"`:,()]+)/.exec(line)?.[1];
}

function isInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir + '/');
}

function exists(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false }) !== undefined;
}

/** The CGI_WRITABLE entry that would cover `dir`: its path relative to the layer root, or an example. */
function writableSuggestion(config: Config, dir: string): string {
  return isInside(dir, config.layerRoot) && dir !== config.layerRoot ? relative(config.layerRoot, dir) : 'cgi-bin/data';
}

const FIX = (config: Config, dir: string) =>
  `list the directory in CGI_WRITABLE (CGI_WRITABLE=${writableSuggestion(config, dir)}) so that packaging links it to the data directory, ` +
  'and mount EFS (--param="efsAccessPoint=<arn>") so that what it writes outlasts the instance; temporary files belong in $TMPDIR (/tmp)';

/** The CGI_WRITABLE directory `path` is in (through its link or at its target), and where that leads. */
function writableEntryFor(config: Config, path: string): { rel: string; target: string } | undefined {
  for (const rel of config.writable) {
    const link = join(config.layerRoot, rel);
    let target = link;
    try {
      target = realpathSync.native(link);
    } catch {
      // a dangling link: its target is what is missing
    }
    if (isInside(path, link) || isInside(path, target)) return { rel, target };
  }
  return undefined;
}

/** The advice when the directory is already writable by configuration, and its target refuses. */
function mountAdvice(config: Config, path: string): string | undefined {
  const entry = writableEntryFor(config, path);
  if (entry === undefined) return undefined;
  return `${path} is in the CGI_WRITABLE directory ${entry.rel}, linked to ${entry.target}, which refuses it too: check that the EFS access point is mounted (--param="efsAccessPoint=<arn>") and that its POSIX user owns the directory`;
}

/** One log message explaining a write failure in `stderr`, for a script in `cwd`, or undefined when there is none to explain. */
export function explainWriteFailure(config: Config, cwd: string, stderr: string[]): string | undefined {
  const siteDirs = [config.layerRoot, config.rootReal, config.documentRoot];
  for (const line of [...stderr].reverse()) {
    const raw = pathInLine(line);
    const path = raw === undefined ? undefined : resolve(cwd, raw);
    const inSite = path !== undefined && siteDirs.some((d) => isInside(path, d));
    const mounted = path === undefined || !(READ_ONLY.test(line) || DENIED.test(line)) ? undefined : mountAdvice(config, path);
    if (mounted !== undefined) return `script could not write ${path}: ${READ_ONLY.test(line) ? 'the file system is read-only' : 'permission denied'}. ${mounted}`;
    if (READ_ONLY.test(line)) {
      const where = path ?? 'a file';
      return `script could not write ${where}: the file system is read-only. On Lambda the site layer under /opt is read-only, and only /tmp (one instance's own) and an EFS mount can be written: ${FIX(config, path === undefined ? config.layerRoot : dirname(path))}`;
    }
    if (path === undefined || !inSite) continue;
    if (DENIED.test(line)) {
      return `script could not write ${path}: permission denied. The site's own directories are not writable by the function (on Lambda /opt is read-only): ${FIX(config, dirname(path))}`;
    }
    if (MISSING.test(line) && !exists(dirname(path))) {
      return `script could not write ${path}: the directory ${dirname(path)} does not exist. A directory a script writes to must be part of the site and writable: create it in the layer and ${FIX(config, dirname(path))}`;
    }
  }
  return undefined;
}

/** The explanation for a failed run (unusable output, a non-zero exit, or a 5xx the script chose), if its stderr gives one. */
export function diagnoseFailure(config: Config, cwd: string, out: CgiOutput, parsed: ParseResult): string | undefined {
  const failed = !parsed.ok || out.exitCode !== 0 || (parsed.response.kind === 'document' && parsed.response.status >= 500);
  return failed ? explainWriteFailure(config, cwd, out.stderrTail) : undefined;
}
