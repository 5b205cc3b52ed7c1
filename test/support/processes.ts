/**
 * Helpers shared by the process, response, bad-input, binary and logging tests:
 * /proc inspection (is a pid still running, which processes does this worker own),
 * a seeded PRNG for deterministic fuzzing, and checks for the error pages the
 * client sees.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { longLivedPids } from '../../handler/process/worker';
import type { Answer } from './events';

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  pgrp: number;
}

/** Parses /proc/<pid>/stat; undefined when the process is gone. */
export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // comm is in parentheses and may itself hold spaces or parentheses.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const rest = text.slice(close + 2).split(' ');
  return { pid, comm: text.slice(open + 1, close), state: rest[0], ppid: Number(rest[1]), pgrp: Number(rest[2]) };
}

/** Running (or stopped, sleeping...): present in /proc and not a zombie. */
export function isRunning(pid: number): boolean {
  const s = procStat(pid);
  return s !== undefined && s.state !== 'Z' && s.state !== 'X';
}

export function allProcesses(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStat(Number(name));
    if (s !== undefined) out.push(s);
  }
  return out;
}

/**
 * Every process whose parent is this jest worker, zombies included (an unreaped
 * child is a leak too); the Perl worker servers the handler keeps are not leaks.
 */
export function childrenOfThisProcess(): ProcStat[] {
  const keep = new Set(longLivedPids());
  return allProcesses().filter((p) => p.ppid === process.pid && !keep.has(p.pid));
}

/** Live (non-zombie) processes in the given process groups. */
export function liveInGroups(groups: number[]): ProcStat[] {
  const set = new Set(groups);
  return allProcesses().filter((p) => set.has(p.pgrp) && p.state !== 'Z' && p.state !== 'X');
}

/**
 * Polls `check` until it holds or `limitMs` passes; returns its last value.
 * Only used to let the kernel finish tearing a killed process down, never to
 * assert how fast something happened.
 */
export async function settle(check: () => boolean, limitMs = 1500): Promise<boolean> {
  const end = Date.now() + limitMs;
  for (;;) {
    if (check()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Reads pids a script wrote, whitespace separated. */
export function readPids(file: string): number[] {
  return readFileSync(file, 'utf8').split(/\s+/).filter(Boolean).map(Number);
}

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

/**
 * What an error page must look like: short HTML with the status in its title,
 * and nothing from the inside (paths, stack frames, script output) in it.
 */
export function expectErrorPage(res: Answer, status: number, secrets: string[] = []): void {
  expect(res.status).toBe(status);
  expect(res.raw.isBase64Encoded).toBe(false);
  const body = res.body.toString('utf8');
  expect(body.length).toBeLessThan(1024);
  expect(body.startsWith('<!DOCTYPE html>')).toBe(true);
  expect(body).toContain(`<title>${status} `);
  expect(res.headers['content-type']?.[0]).toMatch(/^text\/html/);
  expectNoLeak(body, secrets);
}

export function expectNoLeak(body: string, secrets: string[] = []): void {
  expect(body).not.toMatch(/\/tmp\/|\/opt\/|\/usr\/|\/work\/|\/proc\//);
  expect(body).not.toMatch(/\bat [^\s]+ \(|Error:|node:internal|\.ts:\d+/);
  for (const s of secrets) expect(body).not.toContain(s);
}

/** JSON log lines (the default format), parsed. */
export function jsonLines(lines: string[]): Array<Record<string, any>> {
  return lines.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
