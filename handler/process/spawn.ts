import { spawn, type StdioOptions } from 'node:child_process';
import { openSync, readdirSync, readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { Base64Body, pieceBuffer, type RequestBody } from '../body';
import { RLIMIT_SETTINGS, type RLimits } from '../config';
import type { CgiJob, CgiOutput, CgiRunner } from './runner';
import { sigkill } from './kill';
import { forkMark, scriptEnded, scriptStarted } from './sweep';

const STDERR_TAIL_LINES = 20;
const STDERR_LINE_MAX = 8 * 1024;
const STDERR_LOG_MAX = 256 * 1024;
/** After the script exits or is killed, how long to wait for pipes held by an escaped descendant. */
const CLOSE_GRACE_MS = 500;

export function killGroup(pid: number | undefined): void {
  if (pid !== undefined) sigkill(-pid);
}

const O_CLOEXEC = 0o2000000;
let scriptStdio: StdioOptions | undefined;

/**
 * Descriptors this process inherited without close-on-exec (a runtime's
 * telemetry log fd, say). Node marks only fds 0-16 at start, and a child would
 * inherit the rest; everything Node opens itself is close-on-exec, so looking
 * once is enough. The exec wrapper's preload object marks them all at start,
 * which leaves this list empty on Lambda.
 */
function inheritedFds(): number[] {
  const fds: number[] = [];
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    if (fd < 3) continue;
    try {
      const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1'));
      if (flags !== null && (parseInt(flags[1], 8) & O_CLOEXEC) === 0) fds.push(fd);
    } catch {
      // closed meanwhile (readdir's own descriptor)
    }
  }
  return fds;
}

/**
 * A script's stdio: its three pipes and, where this process holds an
 * inheritable descriptor, /dev/null instead (Node has no fcntl to mark it, and
 * closing it could break the runtime).
 */
function stdioForScripts(): StdioOptions {
  if (scriptStdio !== undefined) return scriptStdio;
  let leaky: number[] = [];
  try {
    leaky = inheritedFds();
  } catch {
    // No /proc: nothing we can see.
  }
  const stdio: StdioOptions = ['pipe', 'pipe', 'pipe'];
  if (leaky.length > 0) {
    const devNull = openSync('/dev/null', 'r+');
    for (let fd = 3; fd <= Math.max(...leaky); fd++) stdio.push(leaky.includes(fd) ? devNull : 'ignore');
  }
  scriptStdio = stdio;
  return stdio;
}

/**
 * Writes a request body and ends the stream (a script's stdin, a worker's
 * socket); a lazily decoded one a piece at a time, two pieces in flight, each
 * buffer decoded into again once its write is done.
 */
export function writeBody(stdin: Writable, body: RequestBody): void {
  if (!(body instanceof Base64Body)) {
    if (body.length > 0) stdin.end(body);
    else stdin.end();
    return;
  }
  let next = 0;
  let pending = 0;
  const write = (into: Buffer) => {
    // A script that stops reading (or exits) ends the feed; its stdin is destroyed when it is done.
    if (stdin.destroyed) return;
    if (next >= body.pieceCount) {
      if (pending === 0) stdin.end();
      return;
    }
    pending++;
    stdin.write(body.pieceInto(next++, into), (err) => {
      pending--;
      if (!err) write(into);
    });
  };
  write(pieceBuffer());
  write(pieceBuffer());
}

/** Splits stderr into lines for the log, capped so a chatty script cannot flood it. */
export class StderrLines {
  readonly tail: string[] = [];
  private decoder: StringDecoder | undefined;
  private partial = '';
  private logged = 0;

  constructor(private readonly emit: (line: string) => void) {}

  push(chunk: Buffer): void {
    this.decoder ??= new StringDecoder('utf8');
    const text = this.partial + this.decoder.write(chunk);
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    if (this.partial.length > STDERR_LINE_MAX) {
      lines.push(this.partial);
      this.partial = '';
    }
    for (const line of lines) this.line(line);
  }

  end(): void {
    if (this.decoder === undefined) return;
    const rest = this.partial + this.decoder.end();
    if (rest !== '') this.line(rest);
  }

  private line(raw: string): void {
    const line = (raw.endsWith('\r') ? raw.slice(0, -1) : raw).slice(0, STDERR_LINE_MAX);
    this.tail.push(line);
    if (this.tail.length > STDERR_TAIL_LINES) this.tail.shift();
    if (this.logged > STDERR_LOG_MAX) return;
    this.logged += line.length + 1;
    this.emit(this.logged > STDERR_LOG_MAX ? '[further stderr output not logged]' : line);
  }
}

/**
 * One process per request, in its own process group so that the whole tree can be
 * killed: on timeout, on oversized output, and after the script exits, so nothing
 * it left behind runs on into the next (frozen and thawed) invocation.
 */
export interface SpawnOptions {
  /** wrapper/cgi-exec and the limits it sets (CGI_RLIMIT_*); without them the program is spawned directly. */
  execShim?: string;
  rlimits?: RLimits;
}

/** The flags of cgi-exec (and cgi-spawner) for the limits. */
export function rlimitFlags(rlimits: RLimits): string[] {
  const flags: string[] = [];
  for (const r of RLIMIT_SETTINGS) {
    const v = rlimits[r.key];
    if (v !== undefined) flags.push(r.flag, String(v));
  }
  return flags;
}

/** cgi-exec's arguments for the limits, then the program's command line. */
function shimmed(shim: string, rlimits: RLimits, file: string, args: string[]): [string, string[]] {
  return [shim, [...rlimitFlags(rlimits), '--', file, ...args]];
}

export class SpawnRunner implements CgiRunner {
  constructor(private readonly options: SpawnOptions = {}) {}

  run(job: CgiJob): Promise<CgiOutput> {
    const { execShim, rlimits } = this.options;
    const [file, args] = execShim !== undefined && rlimits !== undefined ? shimmed(execShim, rlimits, job.file, job.args) : [job.file, job.args];
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let timedOut = false;
      let tooLarge = false;
      let aborted = false;
      let exitCode: number | null = null;
      let signal: string | null = null;
      let done = false;
      let timer: NodeJS.Timeout | undefined;
      let graceTimer: NodeJS.Timeout | undefined;
      // Replaced once the child exists; an abort before that has nothing to kill.
      let stop = () => {};
      const stderr = new StderrLines(job.onStderrLine);

      const onAbort = () => {
        aborted = true;
        stop();
      };
      const finish = (startError?: string) => {
        if (done) return;
        done = true;
        // Nothing more is written from job.stdin (an escaped descendant may still hold the script's stdin open).
        child?.stdin?.destroy();
        clearTimeout(timer);
        clearTimeout(graceTimer);
        job.signal?.removeEventListener('abort', onAbort);
        stderr.end();
        resolve({
          stdout: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size),
          exitCode,
          signal,
          timedOut,
          tooLarge,
          ...(aborted ? { aborted } : {}),
          startError,
          stderrTail: stderr.tail,
          runner: 'spawn',
        });
      };

      let child: ReturnType<typeof spawn> | undefined;
      const mark = forkMark();
      try {
        child = spawn(file, args, {
          cwd: job.cwd,
          env: job.env,
          stdio: stdioForScripts(),
          detached: true,
        });
      } catch (err) {
        // Arguments Node refuses outright (a NUL byte, say) never start a process.
        finish((err as Error).message);
        return;
      }

      // Pipes still held by an escaped descendant get a short grace, then the answer is what was written.
      const graceForPipes = () => {
        graceTimer ??= setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          finish();
        }, CLOSE_GRACE_MS);
      };
      stop = () => {
        killGroup(child.pid);
        graceForPipes();
      };
      timer = setTimeout(() => {
        timedOut = true;
        stop();
      }, job.timeoutMs);
      if (job.signal?.aborted) onAbort();
      else job.signal?.addEventListener('abort', onAbort);

      const ticket = child.pid === undefined ? undefined : scriptStarted(child.pid, mark);
      child.on('error', (err) => {
        if (child.pid === undefined) finish(err.message);
      });
      child.on('exit', (code, sig) => {
        exitCode = code;
        signal = sig;
        killGroup(child.pid);
        // Whatever escaped the group: before the answer, so that nothing runs on into the next request.
        scriptEnded(ticket);
        graceForPipes();
      });
      child.on('close', () => finish());

      const sink = job.onStdout;
      child.stdout!.on('data', (chunk: Buffer) => {
        if (tooLarge || aborted) return;
        if (size + chunk.length > job.maxOutputBytes) {
          tooLarge = true;
          stop();
          return;
        }
        size += chunk.length;
        if (sink === undefined) {
          chunks.push(chunk);
          return;
        }
        const wait = sink(chunk);
        if (wait === undefined) return;
        child.stdout!.pause();
        void wait.then(
          () => child.stdout!.resume(),
          () => onAbort(),
        );
      });
      child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));

      // A script that never reads its body closes stdin early; that is not an error.
      child.stdin!.on('error', () => {});
      writeBody(child.stdin!, job.stdin);
    });
  }
}
