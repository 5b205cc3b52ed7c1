/**
 * SIGKILL without an exception for a target that is already gone. The group
 * kill after every script usually finds nothing left (ESRCH), and building that
 * exception costs more than the kill itself.
 */
/** process.kill's binding, which returns an errno instead of throwing (Node 20 and 22 both have it). */
const rawKill = (process as unknown as { _kill?: (pid: number, sig: number) => number })._kill;
const SIGKILL = 9;

/** Kills a process (pid > 0) or a process group (pid < 0); a target that is gone is fine. */
export function sigkill(target: number): void {
  if (typeof rawKill === 'function') {
    rawKill.call(process, target, SIGKILL);
    return;
  }
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    process.kill(target, 'SIGKILL');
  } catch {
    // ESRCH: gone already.
  } finally {
    Error.stackTraceLimit = limit;
  }
}
