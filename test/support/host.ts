/**
 * The real bundle in a process of its own, as Lambda runs it: started through
 * the exec wrapper (optionally), as an unprivileged uid without capabilities
 * (the tests run as root, and root may read any /proc file, which would hide
 * what the attacks can reach), with fake AWS credentials in its environment and
 * optionally an inherited descriptor like the runtime's telemetry fd. Requests
 * go over the IPC channel, so the host's stdout carries only its log.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { staged } from './staged';
import type { Event } from './events';

export const REPO = resolve(__dirname, '..', '..');
// Staged copies: the host runs as another uid, which may not be able to enter the clone.
export const BUNDLE = staged('dist/handler.js');
export const WRAPPER = staged('dist/wrapper/exec-wrapper');
const HOST_MAIN = staged('test/support/host-main.js');

export const FAKE_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'AKIAFAKEKEYID7EXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'fakeSecretAccessKey/K7MDENG/bPxRfiCYEXAMPLEKEY',
  AWS_SESSION_TOKEN: 'FakeSessionTokenIQoJb3JpZ2luX2VjEXAMPLE',
};

export interface HostOptions {
  /** The handler's settings (CGI_ROOT, ...), added to a minimal Lambda-like environment. */
  env: Record<string, string>;
  /** Start node through dist/wrapper/exec-wrapper, as AWS_LAMBDA_EXEC_WRAPPER would. */
  wrapper?: boolean;
  /** Give the host this inherited, non-close-on-exec descriptor (a socket the test reads). */
  extraFd?: number;
  nodeArgs?: string[];
}

export interface Host {
  pid: number;
  uid: number;
  invoke(event: Event, id?: string): Promise<Event>;
  /** Starts two orphaned `sleep 60` in the host; registers the first with registerLongLived. */
  daemons(): Promise<number[]>;
  /** Asks the host to signal itself (as a script of its uid could). */
  selfSignal(signal: NodeJS.Signals): void;
  stdout(): string;
  stderr(): string;
  /** Everything written into the extra descriptor so far. */
  extraFdData(): string;
  stop(): Promise<void>;
}

let counter = 0;
/** A uid of its own for each host (no passwd entry needed), so hosts never see each other's processes. */
export function freshUid(): number {
  counter += 1;
  return 200_000 + ((process.pid * 37 + counter * 1009 + Math.floor(Math.random() * 500)) % 700_000);
}

/** Makes a tree made by makeTree readable by the host, and a directory in it writable. */
export function shareTree(dir: string, uid: number, writable: string[] = []): void {
  chmodSync(dir, 0o755);
  for (const w of writable) {
    const path = join(dir, w);
    mkdirSync(path, { recursive: true });
    chownSync(path, uid, uid);
    chmodSync(path, 0o1777);
  }
}

export async function startHost(opts: HostOptions & { uid?: number }): Promise<Host> {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build first`);
  if (opts.wrapper && !existsSync(WRAPPER)) throw new Error(`${WRAPPER} is missing: run npm run build first`);
  const uid = opts.uid ?? freshUid();
  const command = [process.execPath, ...(opts.nodeArgs ?? []), HOST_MAIN];
  const [file, ...args] = opts.wrapper ? [WRAPPER, ...command] : command;
  // stdout is a file of the host's uid, as Lambda's log pipe is its runtime's: a script
  // that may reopen /proc/<host>/fd/1 can then write into it, and the test sees it.
  const outFile = join(tmpdir(), `lambda-cgi-host-${uid}-${process.pid}.out`);
  const outFd = openSync(outFile, 'a');
  chownSync(outFile, uid, uid);
  const stdio: StdioOptions = ['ignore', outFd, 'pipe', 'ipc'];
  if (opts.extraFd !== undefined) {
    for (let fd = 4; fd < opts.extraFd; fd++) stdio.push('ignore');
    stdio.push('pipe');
  }
  const child: ChildProcess = spawn(file, args, {
    uid,
    gid: uid,
    cwd: '/',
    stdio,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: '/tmp',
      LANG: 'C.UTF-8',
      TZ: 'UTC',
      HOST_BUNDLE: BUNDLE,
      AWS_REGION: 'us-east-1',
      AWS_LAMBDA_FUNCTION_NAME: 'lambda-cgi-test',
      AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001',
      _LAMBDA_TELEMETRY_LOG_FD: String(opts.extraFd ?? 62),
      ...FAKE_CREDENTIALS,
      ...opts.env,
    },
  });
  closeSync(outFd);
  let err = '';
  let extra = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  if (opts.extraFd !== undefined) {
    const stream = child.stdio[opts.extraFd] as NodeJS.ReadableStream;
    stream.on('data', (d: Buffer) => (extra += d.toString('utf8')));
  }
  const pending = new Map<string, { ok: (r: Event) => void; fail: (e: Error) => void }>();
  let ready: (info: { pid: number }) => void;
  let failed: (e: Error) => void;
  const started = new Promise<{ pid: number }>((ok, fail) => {
    ready = ok;
    failed = fail;
  });
  child.on('message', (msg: any) => {
    if (msg.ready) return ready(msg);
    const p = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.error) p?.fail(new Error(msg.error));
    else p?.ok(msg.result);
  });
  child.on('exit', (code, signal) => {
    const e = new Error(`host exited (code ${code}, signal ${signal}); stderr:\n${err}`);
    failed(e);
    for (const p of pending.values()) p.fail(e);
    pending.clear();
  });
  const timer = setTimeout(() => failed(new Error(`host did not start; stderr:\n${err}`)), 20_000);
  await started.finally(() => clearTimeout(timer));
  let n = 0;
  return {
    pid: child.pid!,
    uid,
    invoke: (event, id = `host-req-${++n}`) =>
      new Promise((ok, fail) => {
        pending.set(id, { ok, fail });
        child.send({ id, event });
      }),
    selfSignal: (signal) => child.send({ kill: signal }),
    daemons: () =>
      new Promise((ok, fail) => {
        const id = `daemons-${++n}`;
        pending.set(id, { ok: ok as (r: Event) => void, fail });
        child.send({ id, daemons: true });
      }),
    stdout: () => readFileSync(outFile, 'utf8'),
    stderr: () => err,
    extraFdData: () => extra,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((ok) => child.once('exit', ok));
        child.kill('SIGKILL');
        await gone;
      }
      rmSync(outFile, { force: true });
    },
  };
}

/** Kills every process of `uid` (the tests' own fresh uids only), whatever the handler did. */
export function killUid(uid: number): void {
  const { readdirSync, readFileSync } = require('node:fs') as typeof import('node:fs');
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = readFileSync(`/proc/${name}/status`, 'latin1');
      const m = /^Uid:\s+(\d+)/m.exec(status);
      if (m && Number(m[1]) === uid) process.kill(Number(name), 'SIGKILL');
    } catch {
      // gone
    }
  }
}
