import { cpSync, lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Config } from './config';

/**
 * The runtime half of CGI_WRITABLE (scripts/writable-layer.js is the packaging
 * half): each writable directory of the site is a symlink in the layer, into the
 * data directory. At start the link's target is made to exist, seeded once with
 * the directory's packaged contents. Keep both constants in step with the packager.
 */
export const TMP_DATA_DIR = '/tmp/lambda-cgi';
export const SEED_DIR = '.lambda-cgi/seed';

export interface WritableReport {
  warnings: string[];
  errors: string[];
}

function lstatOrUndefined(path: string) {
  return lstatSync(path, { throwIfNoEntry: false });
}

function isEmptyDir(path: string): boolean {
  return readdirSync(path).length === 0;
}

/**
 * Makes `target` a directory holding a copy of `seed` unless it already holds
 * something. Instances may start at the same moment on one shared mount: each
 * copies into its own staging directory and renames it into place; rename is
 * atomic, replaces an empty directory and fails on a full one, so exactly one
 * copy wins and nobody ever sees half a seed.
 */
export function seedDirectory(target: string, seed: string | undefined): 'seeded' | 'present' {
  const existing = lstatOrUndefined(target);
  if (existing !== undefined) {
    if (!existing.isDirectory()) throw new Error(`${target} exists and is not a directory`);
    if (!isEmptyDir(target)) return 'present';
  }
  if (seed === undefined || lstatOrUndefined(seed) === undefined) {
    mkdirSync(target, { recursive: true });
    return 'present';
  }
  mkdirSync(dirname(target), { recursive: true });
  const staging = `${target}.seeding-${process.pid}-${Math.random().toString(36).slice(2)}`;
  cpSync(seed, staging, { recursive: true, preserveTimestamps: true });
  try {
    renameSync(staging, target);
    return 'seeded';
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return 'present';
    throw err;
  }
}

/**
 * Prepares every CGI_WRITABLE directory; run once when the handler starts. What
 * cannot be done is reported, never thrown: the site still serves what it can,
 * and a script that then fails to write has its failure explained (diagnose.ts).
 */
export function prepareWritable(config: Config): WritableReport {
  const report: WritableReport = { warnings: [], errors: [] };
  const perInstance: string[] = [];
  for (const rel of config.writable) {
    const link = join(config.layerRoot, rel);
    try {
      let stats = lstatOrUndefined(link);
      if (stats === undefined && config.dataDir !== undefined && config.offline) {
        // serverless-offline serves layers/ itself: the link goes there, to the git-ignored data directory.
        mkdirSync(dirname(link), { recursive: true });
        symlinkSync(join(config.dataDir, rel), link);
        stats = lstatOrUndefined(link);
      }
      if (stats === undefined) {
        report.warnings.push(`CGI_WRITABLE ${rel}: ${link} does not exist; package the site with serverless package so it becomes a link to the data directory`);
        continue;
      }
      if (!stats.isSymbolicLink()) {
        if (!config.offline) {
          report.warnings.push(`CGI_WRITABLE ${rel}: ${link} is a plain directory, not a link to the data directory: it was not packaged by serverless package, and writes to it fail on Lambda`);
        }
        continue;
      }
      const target = resolve(dirname(link), readlinkSync(link));
      seedDirectory(target, join(config.layerRoot, SEED_DIR, rel));
      if (target.startsWith(TMP_DATA_DIR + '/')) perInstance.push(rel);
    } catch (err) {
      report.errors.push(`CGI_WRITABLE ${rel}: cannot prepare ${link}: ${(err as Error).message}`);
    }
  }
  if (perInstance.length > 0) {
    report.warnings.push(
      `CGI_WRITABLE ${perInstance.join(', ')} ${perInstance.length === 1 ? 'is' : 'are'} in ${TMP_DATA_DIR}: no durable mount is configured, so what scripts write there belongs to this instance and is lost when it ends; mount EFS with --param="efsAccessPoint=..." to keep it`,
    );
  }
  return report;
}

/**
 * The CGI_WRITABLE directories inside the document root: a site lists one there
 * on purpose, to have what it writes served (generated graphs, statistics
 * pages). Each is a URL path below the document root (decoded, '/graphs'), the
 * link's path under the document root's real path, and the real path of its
 * target, the only place files under that URL may come from. Scripts are never
 * run from a writable directory: routing refuses links out of CGI_ROOT.
 */
export function servedWritableDirs(config: Config): Array<{ url: string; link: string; root: string }> {
  const docRoot = config.documentRootReal;
  if (docRoot === undefined) return [];
  const out = [];
  for (const rel of config.writable) {
    const link = join(config.layerRoot, rel);
    if (!link.startsWith(config.documentRoot + '/')) continue;
    const url = link.slice(config.documentRoot.length);
    try {
      out.push({ url, link: docRoot + url, root: realpathSync.native(docRoot + url) });
    } catch {
      // not there (yet): nothing to serve
    }
  }
  return out;
}

/** The real path of a static file (a path below the document root's real path) reached through a served writable directory, when it stays in its target. */
export function servedWritableReal(config: Config, file: string): string | undefined {
  for (const dir of servedWritableDirs(config)) {
    if (!file.startsWith(dir.link + '/')) continue;
    try {
      const real = realpathSync.native(file);
      return real.startsWith(dir.root + '/') ? real : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
