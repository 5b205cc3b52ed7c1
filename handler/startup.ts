import { statSync } from 'node:fs';
import type { Config } from './config';

/**
 * Checks run once, when the handler reads its configuration: each says, in one
 * log line, what the function will get wrong on every request if it is left so.
 * Add a check as one more entry; it returns its problems (none: []).
 */
export type StartupCheck = (config: Config) => string[];

function isDirectory(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
  } catch {
    return false;
  }
}

const WHERE = 'is the site layer attached (under serverless-offline: CGI_OFFLINE_LAYER_DIR)?';

export const STARTUP_CHECKS: StartupCheck[] = [
  (c) =>
    c.rootIsFile || isDirectory(c.root)
      ? []
      : [`CGI_ROOT ${c.root} does not exist: every ${c.prefix || '/'} URL will be 404; ${WHERE}`],
  (c) =>
    !c.serveStatic || isDirectory(c.documentRoot)
      ? []
      : [`CGI_DOCUMENT_ROOT ${c.documentRoot} does not exist: every static URL will be 404; ${WHERE}`],
];

export function startupProblems(config: Config, checks: StartupCheck[] = STARTUP_CHECKS): string[] {
  return checks.flatMap((check) => check(config));
}
