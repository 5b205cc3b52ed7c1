/**
 * One access-log line per request on stdout; errors, warnings and each line a
 * script writes to stderr on stderr. Every line carries the request id, so a
 * CloudWatch search for it finds the whole story of one request.
 */
export interface AccessEntry {
  requestId: string;
  /** X-Ray trace id of the invocation, when there is one. */
  traceId?: string;
  method: string;
  /** REQUEST_URI: path and query as the client sent them. */
  uri: string;
  protocol: string;
  status: number;
  /** Body bytes sent (0 for HEAD). */
  bytes: number;
  durationMs: number;
  /** SCRIPT_NAME of the script that answered, if one ran. */
  script?: string;
  remoteAddr: string;
  user?: string;
  referer?: string;
  userAgent?: string;
}

export interface Logger {
  access(entry: AccessEntry): void;
  error(requestId: string, message: string, detail?: Record<string, unknown>): void;
  warn(requestId: string, message: string, detail?: Record<string, unknown>): void;
  stderr(requestId: string, script: string, line: string): void;
}

export type Write = (line: string) => void;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

/** Apache's %t: [10/Oct/2000:13:55:36 +0000]. */
function clfTime(d: Date): string {
  return `[${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000]`;
}

/**
 * Most of a URI one access line carries: Apache's own request line limit
 * (LimitRequestFieldSize, 8190). A 64 KiB query would otherwise make every
 * such line a 64 KiB CloudWatch event.
 */
export const MAX_LOGGED_URI = 8190;

export function capUri(uri: string): string {
  if (uri.length <= MAX_LOGGED_URI) return uri;
  return `${uri.slice(0, MAX_LOGGED_URI)}...[${uri.length - MAX_LOGGED_URI} more characters]`;
}

const quoted = (s: string | undefined) => (s === undefined ? '"-"' : JSON.stringify(s));

function jsonLogger(out: Write, err: Write): Logger {
  const line = (write: Write, level: string, requestId: string, message: string, detail?: Record<string, unknown>) =>
    write(JSON.stringify({ level, time: new Date().toISOString(), requestId, message, ...detail }) + '\n');
  return {
    // Spliced rather than spread: this line is written on every request.
    access: (e) => {
      if (e.uri.length > MAX_LOGGED_URI) e = { ...e, uri: capUri(e.uri) };
      out(`{"level":"info","type":"access","time":"${new Date().toISOString()}",${JSON.stringify(e).slice(1)}\n`);
    },
    error: (id, message, detail) => line(err, 'error', id, message, detail),
    warn: (id, message, detail) => line(err, 'warn', id, message, detail),
    stderr: (id, script, text) =>
      err(JSON.stringify({ level: 'info', type: 'stderr', time: new Date().toISOString(), requestId: id, script, message: text }) + '\n'),
  };
}

/** Apache's combined format, then duration, script and request id. */
function combinedLogger(out: Write, err: Write): Logger {
  const line = (level: string, id: string, message: string, detail?: Record<string, unknown>) =>
    err(`${clfTime(new Date())} [cgi:${level}] [${id}] ${message}${detail ? ' ' + JSON.stringify(detail) : ''}\n`);
  return {
    access: (e) =>
      out(
        `${e.remoteAddr} - ${e.user ?? '-'} ${clfTime(new Date())} ${quoted(`${e.method} ${capUri(e.uri)} ${e.protocol}`)} ` +
          `${e.status} ${e.bytes === 0 ? '-' : e.bytes} ${quoted(e.referer)} ${quoted(e.userAgent)} ` +
          `${e.durationMs}ms ${e.script ?? '-'} ${e.requestId}\n`,
      ),
    error: (id, message, detail) => line('error', id, message, detail),
    warn: (id, message, detail) => line('warn', id, message, detail),
    stderr: (id, script, text) => err(`${clfTime(new Date())} [cgi:stderr] [${id}] ${script}: ${text}\n`),
  };
}

export function createLogger(
  format: 'json' | 'combined',
  out: Write = (s) => process.stdout.write(s),
  err: Write = (s) => process.stderr.write(s),
): Logger {
  return format === 'json' ? jsonLogger(out, err) : combinedLogger(out, err);
}
