/**
 * The built bundle (dist/) and the files an unprivileged test process runs,
 * copied once per jest worker into a world-readable temporary directory: a
 * non-root uid may be unable to enter the clone's own folder (CI clones
 * wherever it likes, mktemp's 0700 directories included).
 */
import { chmodSync, cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const REPO = resolve(__dirname, '..', '..');
let stagedDir: string | undefined;
/** What a process of another uid runs: the bundle with the wrapper and the Perl worker beside it, and the test host. */
const STAGED = ['dist', 'test/support/host-main.js'];

/** The staged copy of a file of the repository (`dist/handler.js`, `test/support/host-main.js`). */
export function staged(relative: string): string {
  if (stagedDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'lambda-cgi-staged-'));
    chmodSync(dir, 0o755);
    for (const path of STAGED) {
      if (existsSync(join(REPO, path))) cpSync(join(REPO, path), join(dir, path), { recursive: true });
    }
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    stagedDir = dir;
  }
  return join(stagedDir, relative);
}
