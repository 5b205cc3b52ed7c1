/**
 * The bundled handler (dist/handler.js, `npm run build` first) in a process of
 * its own, as one Lambda instance: configured only by its environment, sent
 * real proxy events, its log lines kept. `wrap` runs it under another program
 * (e.g. `unshare -m` with a read-only bind mount).
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answerOf, type Answer, type Event } from './events';
import { staged } from './staged';

const CHILD = `
const { handler } = require(process.argv[2]);
const events = JSON.parse(require('node:fs').readFileSync(process.argv[3], 'utf8'));
const context = (i) => ({ awsRequestId: 'req-' + i, getRemainingTimeInMillis: () => 20000 });
Promise.all(events.map((e, i) => handler(e, context(i)))).then((results) => {
  process.stdout.write('\\n@@results ' + JSON.stringify(results) + '\\n');
});
`;

export interface HandlerRun {
  answers: Answer[];
  /** Log lines the handler wrote to stderr (errors, warnings, script stderr), parsed when JSON. */
  stderr: string;
  stdout: string;
  code: number | null;
}

/** Invokes `events` concurrently in one fresh handler process with exactly `env` (plus PATH). */
export function runHandlerProcess(env: Record<string, string>, events: Event[], wrap: string[] = []): Promise<HandlerRun> {
  const dir = mkdtempSync(join(tmpdir(), 'lambda-cgi-proc-'));
  chmodSync(dir, 0o755); // readable by a wrapped process running as another uid
  const script = join(dir, 'child.js');
  const eventsFile = join(dir, 'events.json');
  writeFileSync(script, CHILD);
  writeFileSync(eventsFile, JSON.stringify(events));
  const argv = [...wrap, process.execPath, script, staged('dist/handler.js'), eventsFile];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      rmSync(dir, { recursive: true, force: true });
      const marker = stdout.lastIndexOf('\n@@results ');
      if (marker < 0) return reject(new Error(`handler process exited with ${code} without results:\n${stdout}\n${stderr}`));
      const results = JSON.parse(stdout.slice(marker + '\n@@results '.length)) as Event[];
      resolve({ answers: results.map(answerOf), stderr, stdout: stdout.slice(0, marker), code });
    });
  });
}
