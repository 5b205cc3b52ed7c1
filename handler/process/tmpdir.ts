import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * CGI_PRIVATE_TMPDIR: a directory of its own for one request's temporary files
 * (mode 0700), handed to the script as TMPDIR, removed with everything in it
 * once the script and whatever it left behind are gone. Only tools that honour
 * TMPDIR use it; a hard-coded /tmp path does not.
 */
export function makePrivateTmpdir(): string {
  return mkdtempSync(join(tmpdir(), 'cgi-req-'));
}

export function removePrivateTmpdir(dir: string | undefined, warn: (message: string) => void): void {
  if (dir === undefined) return;
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
  } catch (err) {
    warn(`could not remove the private TMPDIR ${dir}: ${(err as Error).message}`);
  }
}
