/**
 * The survivor census. A script can leave processes behind that escape its
 * process group (setsid, setpgid, a double fork): on Lambda they would sleep in
 * the frozen environment and wake up beside the next request, able to read its
 * cookies from /proc. After each script exits, every process of our uid that
 * was created while the script ran is killed, unless it still descends from a
 * running script (a concurrent request's), from a registered long-lived helper
 * (the Perl worker), from this process, or from a process older than this one.
 *
 * Cheap on purpose, since it runs after every request: the kernel's fork
 * counter (/proc/stat "processes") says whether anything was created at all
 * since the script started; if so, only the pids allocated since (up to
 * /proc/loadavg's last pid) are looked at. Uid and start time come from
 * /proc/N/status and /proc/N/stat, never from the owner of /proc/N, which is
 * root for a process that made itself non-dumpable.
 *
 * Never as root: there "our uid" is every process on the machine.
 */
import { openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { sigkill } from './kill';

/** What a script's census needs from the moment it started. */
export interface ScriptTicket {
  pid: number;
  forks: number;
}

interface Proc {
  ppid: number;
  start: number;
  state: string;
}

/** Rounds of kill-and-look-again, for survivors that fork while being killed. */
const MAX_ROUNDS = 20;
/** Beyond this many new pids, one /proc listing is cheaper than probing each. */
const PROBE_LIMIT = 128;

let enabled = false;
const inFlight = new Set<number>();
const longLived = new Set<number>();
let self: { pid: number; uid: number; start: number; ancestors: Set<number>; pidMax: number } | undefined;
let statFd: number | undefined;
let loadavgFd: number | undefined;
const buf = Buffer.alloc(64 * 1024);

/** Reads a whole /proc file through a descriptor kept open (a fresh open costs as much again). */
function pread(fd: number): string {
  const n = readSync(fd, buf, 0, buf.length, 0);
  return buf.toString('latin1', 0, n);
}

/** The kernel's count of processes and threads created since boot: it never goes back. */
function forkCount(): number {
  const text = pread(statFd!);
  const at = text.indexOf('\nprocesses ');
  return Number(text.slice(at + 11, text.indexOf('\n', at + 11)));
}

/** The last pid the kernel handed out. */
function lastPid(): number {
  const text = pread(loadavgFd!);
  return Number(text.slice(text.lastIndexOf(' ') + 1));
}

/** ppid, state and start time (clock ticks since boot) of a process, or undefined when it is gone. */
function readProc(pid: number): Proc | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // comm, in parentheses, may itself hold spaces and parentheses.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0], ppid: Number(rest[1]), start: Number(rest[19]) };
}

/** Real uid, and whether `pid` is a process rather than a thread of one. */
function readIdentity(pid: number): { uid: number; leader: boolean } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return undefined;
  }
  const tgid = /^Tgid:\s*(\d+)/m.exec(text);
  const uid = /^Uid:\s*(\d+)/m.exec(text);
  if (tgid === null || uid === null) return undefined;
  return { uid: Number(uid[1]), leader: Number(tgid[1]) === pid };
}

/**
 * Turns the census on or off. The handler does so once, from CGI_SWEEP, and
 * never as root; returns whether it is on.
 */
export function setSweeping(on: boolean): boolean {
  enabled = on && process.getuid?.() !== 0;
  if (enabled && self === undefined) {
    const me = readProc(process.pid)!;
    const ancestors = new Set<number>();
    for (let p = me.ppid; p > 1 && !ancestors.has(p); p = readProc(p)?.ppid ?? 0) ancestors.add(p);
    let pidMax = 4194304;
    try {
      pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'latin1'));
    } catch {
      // the largest the kernel allows
    }
    self = { pid: process.pid, uid: process.getuid!(), start: me.start, ancestors, pidMax };
    statFd = openSync('/proc/stat', 'r');
    loadavgFd = openSync('/proc/loadavg', 'r');
  }
  // Switched off, what was read stays: turning it on again (the bench does, per request) costs nothing.
  return enabled;
}

/**
 * A helper the handler keeps running across requests (the Perl worker's server
 * and zygotes): it and what descends from it are never swept.
 */
export function registerLongLived(pid: number): void {
  longLived.add(pid);
}

export function unregisterLongLived(pid: number): void {
  longLived.delete(pid);
}

/**
 * Read right before a script is spawned: the script may fork before spawn()
 * even returns. Undefined when the census is off.
 */
export function forkMark(): number | undefined {
  return enabled ? forkCount() : undefined;
}

/** Called right after a script is spawned, with forkMark()'s value; the ticket goes to scriptEnded. */
export function scriptStarted(pid: number, mark: number | undefined): ScriptTicket | undefined {
  if (mark === undefined || !enabled) return undefined;
  inFlight.add(pid);
  return { pid, forks: mark };
}

/** Pids handed out in the cyclic range (from, to]: the kernel wraps at pid_max. */
function pidsBetween(from: number, to: number, pidMax: number): number[] | 'all' {
  const count = to >= from ? to - from : pidMax - from + to;
  if (count > PROBE_LIMIT) return 'all';
  const out: number[] = [];
  for (let i = 1, p = from + 1; i <= count; i++, p++) {
    if (p >= pidMax) p = 1;
    out.push(p);
  }
  return out;
}

function inRange(pid: number, from: number, to: number): boolean {
  return to >= from ? pid > from && pid <= to : pid > from || pid <= to;
}

/**
 * Called once the script has exited (and been reaped). Kills what it left
 * behind; returns how many processes were killed.
 */
export function scriptEnded(ticket: ScriptTicket | undefined): number {
  if (ticket === undefined || self === undefined) return 0;
  inFlight.delete(ticket.pid);
  const me = self;
  const forks = forkCount() - ticket.forks;
  // Nothing was created on this machine but the script itself: no survivor can exist.
  if (forks <= 1) return 0;
  // More creations than pids: the counter went round at least once, so every pid is suspect.
  let everything = forks >= me.pidMax - 300;
  let from = ticket.pid;
  let killed = 0;
  const seen = new Map<number, Proc | undefined>();
  const proc = (pid: number) => {
    if (!seen.has(pid)) seen.set(pid, readProc(pid));
    return seen.get(pid);
  };
  const exempt = (pid: number): boolean => {
    for (let p = pid, depth = 0; depth < 4096; depth++) {
      if (p === me.pid || inFlight.has(p) || longLived.has(p)) return true;
      if (p <= 1 || me.ancestors.has(p)) return false;
      const info = proc(p);
      // Gone: its descendants were orphaned, so they no longer belong to it.
      if (info === undefined) return false;
      if (p !== pid && info.start <= me.start) return true;
      p = info.ppid;
    }
    return false;
  };

  for (let round = 0; round < MAX_ROUNDS; round++) {
    const to = lastPid();
    const range = everything ? 'all' : pidsBetween(from, to, me.pidMax);
    const candidates =
      range === 'all'
        ? readdirSync('/proc').map(Number).filter((p) => p > 0 && (everything || inRange(p, from, to)))
        : range;
    seen.clear();
    const victims: number[] = [];
    for (const pid of candidates) {
      if (pid === me.pid) continue;
      const info = proc(pid);
      if (info === undefined || info.state === 'X' || info.start <= me.start) continue;
      const id = readIdentity(pid);
      if (id === undefined || !id.leader || id.uid !== me.uid) continue;
      if (!exempt(pid)) victims.push(pid);
    }
    for (const pid of victims) sigkill(pid);
    killed += victims.length;
    // After a kill, look again at what was created meanwhile: a survivor may have forked while being killed.
    if (victims.length === 0) break;
    everything = false;
    from = to;
  }
  return killed;
}
