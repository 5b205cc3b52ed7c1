/**
 * What the Perl worker tells the survivor census (handler/process/sweep.ts, on
 * the `sec` branch): its server and zygotes are long-lived helpers, and each
 * request child is a script whose leftovers are swept once it has exited.
 *
 * Until sweep.ts is on main these do nothing. At the merge, replace this file's
 * body with:
 *   export { registerLongLived, unregisterLongLived, forkMark, scriptStarted, scriptEnded } from './sweep';
 */
export type ScriptTicket = unknown;

export function registerLongLived(pid: number): void {
  void pid;
}

export function unregisterLongLived(pid: number): void {
  void pid;
}

export function forkMark(): number | undefined {
  return undefined;
}

export function scriptStarted(pid: number, mark: number | undefined): ScriptTicket | undefined {
  void pid;
  void mark;
  return undefined;
}

export function scriptEnded(ticket: ScriptTicket | undefined): number {
  void ticket;
  return 0;
}
