import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadConfig } from '../../handler/config';
import { createHandler } from '../../handler/index';
import { createLogger } from '../../handler/log';
import { createRunner } from '../../handler/process/select';
import type { Event } from './events';

export interface SiteFile {
  content: string | Buffer;
  /** Defaults to 0o755: most test files are scripts. */
  mode?: number;
}

/** A temporary directory tree of real files; removed by `cleanup()`. */
export function makeTree(files: Record<string, string | Buffer | SiteFile>): string {
  const dir = mkdtempSync(join(tmpdir(), 'lambda-cgi-'));
  for (const [rel, spec] of Object.entries(files)) {
    const file = typeof spec === 'string' || Buffer.isBuffer(spec) ? { content: spec } : spec;
    const path = join(dir, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, file.content);
    chmodSync(path, file.mode ?? 0o755);
  }
  return dir;
}

export function cleanup(...dirs: string[]): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

/** Compiles a C program with the system compiler; a missing `cc` fails the test loudly. */
export function compileC(source: string, output: string): void {
  const src = `${output}.c`;
  writeFileSync(src, source);
  execFileSync('cc', ['-O2', '-Wall', '-o', output, src], { stdio: 'pipe' });
  rmSync(src);
}

export interface Harness {
  invoke(event: Event, context?: { awsRequestId?: string; getRemainingTimeInMillis?: () => number }): Promise<Event>;
  /** Access-log lines (stdout). */
  out: string[];
  /** Error, warning and script stderr lines (stderr). */
  err: string[];
  clearLogs(): void;
}

/**
 * The real handler with the real logger, configured from `env` as Lambda would
 * configure it from the function's environment; log lines are kept for asserts.
 */
export function harness(env: Record<string, string | undefined>): Harness {
  const out: string[] = [];
  const err: string[] = [];
  // CGI_PERL_WORKER=off (CGI_SPAWNER=off) in the test run's environment runs every suite without the Perl worker (cgi-spawner).
  const config = loadConfig({ PATH: process.env.PATH, CGI_PERL_WORKER: process.env.CGI_PERL_WORKER, CGI_SPAWNER: process.env.CGI_SPAWNER, ...env });
  const logger = createLogger(config.logFormat, (s) => void out.push(s), (s) => void err.push(s));
  const runner = createRunner(config, logger);
  const handler = createHandler({ config, logger, runner });
  // Tests exercise the worker and cgi-spawner themselves, not the spawn they stand in for until they are ready.
  const ready = Promise.all([runner.whenReady(), runner.spawnerReady()]);
  return {
    invoke: async (event, context = { awsRequestId: 'req-1' }) => {
      await ready;
      return handler(event, context) as Promise<Event>;
    },
    out,
    err,
    clearLogs: () => {
      out.length = 0;
      err.length = 0;
    },
  };
}

/** Parses `KEY=value` lines (a script's `env` output) into an object. */
export function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

/** A shell CGI script that prints its environment (NUL-separated, so values may hold newlines). */
export const PRINTENV_SH = `#!/bin/sh
printf 'Content-Type: text/plain\\n\\n'
env -0
`;

export function parseEnv0(body: Buffer): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of body.toString('utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}
