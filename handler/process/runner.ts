import type { RequestBody } from '../body';

/**
 * How a CGI program is run: spawned from Node, exec'd from the small
 * cgi-spawner, or run by the persistent Perl worker (select.ts chooses). All
 * implement this interface, so nothing above this module knows which one is in use.
 */
export interface CgiJob {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  stdin: RequestBody;
  timeoutMs: number;
  /** Output beyond this is not collected: the process is killed and `tooLarge` set. */
  maxOutputBytes: number;
  /** Called for each line the program writes to stderr. */
  onStderrLine: (line: string) => void;
  /**
   * When set, stdout is handed over chunk by chunk as it arrives instead of being
   * collected (`CgiOutput.stdout` is then empty); while a returned promise is
   * pending, no more is read from the program, so a slow reader slows it down.
   * `maxOutputBytes` still counts every byte.
   */
  onStdout?: (chunk: Buffer) => void | Promise<void>;
  /** Aborting stops the program as a timeout would (its group killed), with `aborted` set. */
  signal?: AbortSignal;
}

export interface CgiOutput {
  stdout: Buffer;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  tooLarge: boolean;
  /** Stopped through `CgiJob.signal`. */
  aborted?: boolean;
  /** Set when the program could not be started at all (ENOENT, EACCES, ENOEXEC...). */
  startError?: string;
  /** The last lines of stderr, for the error log when the response is unusable. */
  stderrTail: string[];
  /** Which runner served the request, for the access log only. */
  runner?: 'spawn' | 'perl-worker' | 'spawner';
}

export interface CgiRunner {
  run(job: CgiJob): Promise<CgiOutput>;
}
