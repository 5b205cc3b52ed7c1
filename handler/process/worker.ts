/**
 * Fork servers: long-lived processes that fork a fresh child per request. The
 * persistent Perl worker (perl/lambda-cgi-worker.pl) has loaded the usual
 * modules once and runs the script in the child; cgi-spawner
 * (wrapper/cgi-spawner.c) execs any program from a process much smaller than
 * Node. Both speak one protocol. This file starts and watches a server and runs
 * one request on it; which requests go where is decided in select.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../log';
import type { CgiJob, CgiOutput } from './runner';
import { forkMark, registerLongLived, scriptEnded, scriptStarted, unregisterLongLived, type ScriptTicket } from './sweep';
import { killGroup, StderrLines, writeBody } from './spawn';

const SERVER_SCRIPT = join(__dirname, 'perl', 'lambda-cgi-worker.pl');
/** How long a server may take to load its modules before it counts as crashed. */
const START_TIMEOUT_MS = 15_000;
/** After a kill or the exit record, how long to wait for the rest of stdout. */
const CLOSE_GRACE_MS = 500;
const MAX_CRASHES = 5;
/** With the master gone, how long after stdout EOF an exit record may still come from a zygote. */
const SERVER_GONE_GRACE_MS = 200;
const BACKOFF_MS = [100, 400, 1600, 5000, 10_000];
/** A server that served this many requests was healthy: its crash starts the count again. */
const HEALTHY_REQUESTS = 50;
/** Exit records for connections that never showed a preamble are dropped after this. */
const EARLY_RECORD_TTL_MS = 60_000;

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

export interface ServerSpec {
  /** The Perl that runs the server; with `program`, only what names the server in logs. */
  perl: string;
  /** A server binary that speaks the same protocol instead of perl (wrapper/cgi-spawner.c): it execs programs. */
  program?: string;
  /** The program's arguments after --socket (cgi-spawner's limits). */
  programArgs?: string[];
  env: Record<string, string>;
  preload: string[];
  precompile: string[];
  maxRequests: number;
}

/** Processes the handler started itself and keeps (the census must leave them alone). */
const longLived = new Set<number>();
export function longLivedPids(): number[] {
  return [...longLived];
}

type Ctl = { kind: 'E'; data: Buffer } | { kind: 'X'; status: number };

interface Pending {
  onStderr(data: Buffer): void;
  onExit(status: number | undefined): void;
  /** The master died: its zygotes may still report this request's exit, or nobody will. */
  onServerGone(): void;
}

/** What the log, the socket folder and the access log call a server. */
const KINDS = {
  perl: { name: 'perl worker', dirPrefix: 'lambda-cgi-perl-', runner: 'perl-worker' },
  spawner: { name: 'cgi-spawner', dirPrefix: 'lambda-cgi-spawner-', runner: 'spawner' },
} as const;
const kindOf = (spec: ServerSpec) => KINDS[spec.program === undefined ? 'perl' : 'spawner'];

/** One running server process (the Perl worker's or cgi-spawner) and its control channel. */
export class ForkServer {
  readonly kind: (typeof KINDS)[keyof typeof KINDS];
  readonly proc: ChildProcess;
  readonly socket: string;
  /** Precompiled script → its zygote's socket, as zygotes report in. */
  readonly zygotes = new Map<string, string>();
  private readonly zygotePids: number[] = [];
  /** The zygote forked before preloading, for scripts that use no preloaded module. */
  bareSocket: string | undefined;
  state: 'starting' | 'ready' | 'gone' = 'starting';
  readonly ready: Promise<boolean>;
  /** Resolves once READY came and every zygote reported (compiled or failed): tests and the bench wait for it. */
  readonly settled: Promise<boolean>;
  private zygotesExpected = -1;
  private zygotesReported = 0;
  private settle2!: (ok: boolean) => void;
  readonly startedAt = Date.now();
  readyAfterMs: number | undefined;
  requests = 0;
  inflight = 0;
  private draining = false;
  private readonly dir: string;
  private pending = new Map<number, Pending>();
  private early = new Map<number, { at: number; records: Ctl[] }>();
  private buf: Buffer = Buffer.alloc(0);
  private exitListeners: Array<(expected: boolean) => void> = [];
  private stopping = false;
  private pipeClosed = false;

  constructor(readonly spec: ServerSpec, private readonly log: Logger) {
    this.kind = kindOf(spec);
    this.dir = mkdtempSync(join(tmpdir(), this.kind.dirPrefix));
    this.socket = join(this.dir, 's');
    const args = spec.program !== undefined ? ['--socket', this.socket, ...(spec.programArgs ?? [])] : [SERVER_SCRIPT, '--socket', this.socket];
    for (const m of spec.preload) args.push('--preload', m);
    for (const f of spec.precompile) args.push('--precompile', f);
    let settle!: (ok: boolean) => void;
    this.ready = new Promise((r) => (settle = r));
    this.settled = new Promise((r) => (this.settle2 = r));
    this.proc = spawn(spec.program ?? spec.perl, args, { env: spec.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const timer = setTimeout(() => {
      if (this.state === 'starting') this.warn(`did not start within ${START_TIMEOUT_MS} ms; killed`), this.kill();
    }, START_TIMEOUT_MS);
    timer.unref();
    this.proc.on('error', (err) => {
      this.warn(`cannot start ${spec.program ?? spec.perl}: ${err.message}`);
    });
    this.proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      const wasReady = this.state === 'ready';
      this.state = 'gone';
      for (const pid of [this.proc.pid, ...this.zygotePids]) {
        if (pid === undefined) continue;
        longLived.delete(pid);
        unregisterLongLived(pid);
      }
      settle(false);
      this.settle2(false);
      rmSync(this.dir, { recursive: true, force: true });
      if (!this.stopping) this.warn(`exited (${signal ?? `code ${code}`})${wasReady ? ` after ${this.requests} requests` : ' before it was ready'}`);
      // A request in flight keeps its stdout (the child writes to its own socket). A zygote
      // child's exit record still comes through the control pipe the zygotes hold; a master
      // child's never does.
      for (const p of this.pending.values()) p.onServerGone();
      for (const l of this.exitListeners) l(this.stopping);
    });
    this.proc.on('close', () => {
      for (const p of this.pending.values()) p.onExit(undefined);
      this.pending.clear();
      this.pipeClosed = true;
    });
    if (this.proc.pid !== undefined) this.longLived(this.proc.pid);
    this.proc.stdout!.on('data', (chunk: Buffer) => this.control(chunk, () => {
      clearTimeout(timer);
      this.readyAfterMs = Date.now() - this.startedAt;
      this.state = 'ready';
      settle(true);
    }));
    const diag = new StderrLines((line) => this.warn(line));
    this.proc.stderr!.on('data', (chunk: Buffer) => diag.push(chunk));
    this.proc.stdin!.on('error', () => {});
    // The server must not keep Node's event loop (or a test run) alive; it dies with Node through its stdin.
    this.proc.unref();
    for (const s of [this.proc.stdin, this.proc.stdout, this.proc.stderr]) (s as unknown as { unref?: () => void }).unref?.();
  }

  private longLived(pid: number): void {
    longLived.add(pid);
    registerLongLived(pid);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  onExit(listener: (expected: boolean) => void): void {
    this.exitListeners.push(listener);
  }

  private warn(message: string): void {
    this.log.warn('-', `${this.kind.name} ${this.proc?.pid ?? ''}: ${message}`);
  }

  /** Parses control records: line headers, E records followed by their bytes. */
  private control(chunk: Buffer, onReady: () => void): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      const nl = this.buf.indexOf(0x0a);
      if (nl < 0) return;
      const head = this.buf.toString('latin1', 0, nl).split(' ');
      if (head[0] === 'E') {
        const len = Number(head[2]);
        if (this.buf.length < nl + 1 + len) return;
        this.deliver(Number(head[1]), { kind: 'E', data: this.buf.subarray(nl + 1, nl + 1 + len) });
        this.buf = this.buf.subarray(nl + 1 + len);
        continue;
      }
      const line = this.buf.toString('utf8', 0, nl);
      this.buf = this.buf.subarray(nl + 1);
      switch (head[0]) {
        case 'X':
          this.deliver(Number(head[1]), { kind: 'X', status: Number(head[3]) });
          break;
        case 'READY':
          onReady();
          this.zygotesExpected = Number(head[2]);
          this.zygoteReported(0);
          break;
        case 'Z': {
          // Z zid pid socket script
          const pid = Number(head[2]);
          this.zygotePids.push(pid);
          this.longLived(pid);
          this.zygotes.set(line.split(' ').slice(4).join(' '), head[3]);
          this.zygoteReported(1);
          break;
        }
        case 'B': {
          const pid = Number(head[1]);
          this.zygotePids.push(pid);
          this.longLived(pid);
          this.bareSocket = head[2];
          this.zygoteReported(0);
          break;
        }
        case 'ZDEAD':
        case 'ZFAIL': {
          if (head[0] === 'ZDEAD' && head[1] === '255') {
            this.bareSocket = undefined;
            break;
          }
          const script = line.slice(line.indexOf(' ', head[0] === 'ZDEAD' ? 6 : 0) + 1);
          if (head[0] === 'ZFAIL') this.zygoteReported(1);
          for (const [s] of this.zygotes) if (s === script) this.zygotes.delete(s);
          this.warn(head[0] === 'ZFAIL' ? `precompiling ${script} failed; it runs uncompiled` : `zygote for ${script} died; it runs uncompiled`);
          break;
        }
        case 'L':
          this.warn(line.slice(2));
          break;
      }
    }
  }

  private zygoteReported(n: number): void {
    this.zygotesReported += n;
    // The bare zygote counts in READY's number but reports with B, before READY.
    if (this.zygotesExpected >= 0 && this.zygotesReported >= this.zygotesExpected - (this.bareSocket ? 1 : 0)) this.settle2(true);
  }

  private deliver(seq: number, rec: Ctl): void {
    const p = this.pending.get(seq);
    if (p !== undefined) {
      if (rec.kind === 'E') p.onStderr(rec.data);
      else {
        this.pending.delete(seq);
        p.onExit(rec.status);
      }
      return;
    }
    // The control pipe and the request's socket race: keep records until the preamble is read.
    const now = Date.now();
    let e = this.early.get(seq);
    if (e === undefined) this.early.set(seq, (e = { at: now, records: [] }));
    e.records.push(rec.kind === 'E' ? { kind: 'E', data: Buffer.from(rec.data) } : rec);
    if (this.early.size > 64) for (const [s, v] of this.early) if (now - v.at > EARLY_RECORD_TTL_MS) this.early.delete(s);
  }

  attach(seq: number, p: Pending): void {
    const e = this.early.get(seq);
    this.early.delete(seq);
    if (this.pipeClosed) {
      for (const r of e?.records ?? []) if (r.kind === 'E') p.onStderr(r.data);
      p.onExit(e?.records.find((r) => r.kind === 'X')?.status);
      return;
    }
    this.pending.set(seq, p);
    for (const r of e?.records ?? []) this.deliver(seq, r);
    if (this.state === 'gone' && this.pending.has(seq)) p.onServerGone();
  }

  detach(seq: number): void {
    this.pending.delete(seq);
  }

  /** Kills one request's process group (the server or its zygote does it). */
  killRequest(seq: number): void {
    if (this.state !== 'gone') this.proc.stdin!.write(`K ${seq}\n`);
  }

  begin(): void {
    this.requests++;
    this.inflight++;
  }

  end(): void {
    this.inflight--;
    if (this.draining && this.inflight === 0) this.stop();
  }

  /** Stops once the requests in flight are done (recycling). */
  drain(): void {
    this.draining = true;
    if (this.inflight === 0) this.stop();
  }

  /** Closing the lifeline makes the server kill its children, remove its sockets and exit. */
  stop(): Promise<void> {
    this.stopping = true;
    if (this.state === 'gone') return Promise.resolve();
    const gone = new Promise<void>((r) => this.onExit(() => r()));
    this.proc.stdin!.end();
    return gone;
  }

  kill(): void {
    try {
      process.kill(this.proc.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/**
 * One server at a time for a given spec: started at once, restarted with
 * backoff after a crash, given up after repeated crashes, replaced after
 * maxRequests (for Perl a fresh hash seed and clean memory).
 */
export class Supervisor {
  current: ForkServer | undefined;
  private next: ForkServer | undefined;
  private crashes = 0;
  disabled = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly spec: ServerSpec, private readonly log: Logger) {
    this.current = this.launch();
  }

  private launch(): ForkServer {
    const server = new ForkServer(this.spec, this.log);
    server.onExit((expected) => {
      if (this.current === server) this.current = undefined;
      if (this.next === server) this.next = undefined;
      if (expected || this.closed) return;
      if (server.requests >= HEALTHY_REQUESTS) this.crashes = 0;
      this.crashes++;
      if (this.crashes >= MAX_CRASHES) {
        this.disabled = true;
        this.log.error('-', `${server.kind.name} crashed ${this.crashes} times; disabled for this instance, scripts run by plain spawn`);
        return;
      }
      if (this.current === undefined) {
        this.timer = setTimeout(() => {
          if (!this.closed && this.current === undefined) this.current = this.launch();
        }, BACKOFF_MS[this.crashes - 1]);
        this.timer.unref();
      }
    });
    return server;
  }

  /** The server to use now, if one is ready; never waits for one. */
  usable(): ForkServer | undefined {
    const s = this.current;
    if (s === undefined || s.state !== 'ready') return undefined;
    if (s.requests >= this.spec.maxRequests && this.next === undefined && !this.closed) {
      const fresh = this.launch();
      this.next = fresh;
      void fresh.ready.then((ok) => {
        if (!ok || this.next !== fresh) return;
        this.next = undefined;
        const old = this.current;
        this.current = fresh;
        old?.drain();
      });
    }
    return s;
  }

  whenReady(): Promise<boolean> {
    return this.current?.settled ?? Promise.resolve(false);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await Promise.all([this.current?.stop(), this.next?.stop()]);
  }
}

export interface PerlRequest {
  script: string;
  /** 'w' when the shebang says -w. */
  switches: string;
  argv: string[];
}

function frame(job: CgiJob, req: PerlRequest): Buffer | undefined {
  const fields = ['LCGI1', req.script, req.switches, job.cwd, String(job.stdin.length), String(req.argv.length), ...req.argv];
  for (const name in job.env) fields.push(`${name}=${job.env[name]}`);
  const text = fields.join('\0');
  // Spawn refuses a NUL inside an argument or variable; let it say so.
  if (fields.some((f) => f.includes('\0'))) return undefined;
  const body = Buffer.from(text, 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

/**
 * Runs one request on the server. Resolves undefined when the script cannot
 * have started (no connection, no preamble), so the caller may spawn it
 * instead; never after that, which could run the script twice.
 */
/**
 * Optional fields the streaming work adds to CgiJob/CgiOutput (runner.ts): a
 * stdout sink with back-pressure and an abort signal. Read here through this
 * type so the worker honours them whether or not runner.ts declares them yet.
 */
type StreamingJob = CgiJob & { onStdout?: (chunk: Buffer) => void | Promise<void>; signal?: AbortSignal };

export function runOnServer(server: ForkServer, socketPath: string, job: StreamingJob, req: PerlRequest): Promise<CgiOutput | undefined> {
  const data = frame(job, req);
  if (data === undefined) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    server.begin();
    const mark = forkMark();
    let ticket: ScriptTicket | undefined;
    const stderr = new StderrLines(job.onStderrLine);
    const chunks: Buffer[] = [];
    let size = 0;
    let head: Buffer = Buffer.alloc(0);
    let seq: number | undefined;
    let childPid = 0;
    let exited = false;
    let status: number | undefined;
    let serverGone = false;
    let eof = false;
    let timedOut = false;
    let tooLarge = false;
    let aborted = false;
    let done = false;
    let grace: NodeJS.Timeout | undefined;

    const finish = (fallback = false) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(grace);
      job.signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      if (seq !== undefined) server.detach(seq);
      server.end();
      scriptEnded(ticket);
      if (fallback) return resolve(undefined);
      stderr.end();
      const exitCode = status !== undefined && (status & 0x7f) === 0 ? status >> 8 : null;
      const signal = status !== undefined && (status & 0x7f) !== 0 ? (SIGNAL_NAMES.get(status & 0x7f) ?? null) : null;
      const out: CgiOutput & { aborted?: boolean } = {
        stdout: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size),
        exitCode,
        signal,
        timedOut,
        tooLarge,
        stderrTail: stderr.tail,
        runner: server.kind.runner,
      };
      if (aborted) out.aborted = true;
      resolve(out);
    };
    const maybeDone = () => {
      if (eof && exited) finish();
      else if (eof && serverGone) grace ??= setTimeout(() => finish(), SERVER_GONE_GRACE_MS);
      // With the server gone (no status), the child still writes to its socket: wait for its EOF.
      else if ((exited && status !== undefined) || timedOut || tooLarge || aborted) grace ??= setTimeout(() => finish(), CLOSE_GRACE_MS);
    };
    const stop = () => {
      if (seq !== undefined && server.state !== 'gone') server.killRequest(seq);
      else if (childPid > 1) killGroup(childPid);
      else sock.destroy();
      maybeDone();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, job.timeoutMs);
    const onAbort = () => {
      aborted = true;
      stop();
    };
    job.signal?.addEventListener('abort', onAbort);

    /** The one place the script's stdout goes: collected, or handed to the streaming sink. */
    const stdout = (chunk: Buffer) => {
      if (tooLarge || chunk.length === 0) return;
      if (size + chunk.length > job.maxOutputBytes) {
        tooLarge = true;
        stop();
        return;
      }
      size += chunk.length;
      if (job.onStdout === undefined) {
        chunks.push(chunk);
        return;
      }
      const pending = job.onStdout(chunk);
      if (pending instanceof Promise) {
        sock.pause();
        // A sink that fails (the client went away) stops the script, as through spawn.
        pending.then(() => sock.resume(), onAbort);
      }
    };

    const sock = createConnection(socketPath);
    // The frame, then the request body as spawn gives it to stdin (a large one decoded as it goes).
    sock.on('connect', () => {
      sock.write(data);
      writeBody(sock, job.stdin);
    });
    sock.on('error', () => {
      if (seq === undefined && !timedOut && !aborted) return finish(true);
      eof = true;
      maybeDone();
    });
    sock.on('data', (chunk: Buffer) => {
      if (seq === undefined) {
        head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
        if (head.length < 8) return;
        seq = head.readUInt32BE(0);
        childPid = head.readUInt32BE(4);
        ticket = scriptStarted(childPid, mark);
        server.attach(seq, {
          onStderr: (d) => stderr.push(d),
          onExit: (s) => {
            exited = true;
            status = s;
            clearTimeout(grace);
            grace = undefined;
            maybeDone();
          },
          onServerGone: () => {
            serverGone = true;
            maybeDone();
          },
        });
        chunk = head.subarray(8);
      }
      stdout(chunk);
    });
    sock.on('close', () => {
      if (seq === undefined && !timedOut && !aborted) return finish(true);
      eof = true;
      maybeDone();
    });
  });
}
