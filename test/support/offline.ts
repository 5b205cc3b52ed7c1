/**
 * Helpers for the end-to-end tests: serverless-offline started as `npm start`
 * starts it (real child process, real ports), a CloudFormation stub for
 * `serverless package`, and the small HTTP client pieces the site tests share.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';

export const REPO = resolve(__dirname, '..', '..');
export const SERVERLESS = join(REPO, 'node_modules', '.bin', 'serverless');

/** A TCP port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createNetServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => ok(port));
    });
  });
}

/**
 * The environment a child serverless process gets: ours, without any lambda-cgi
 * setting from the shell running the tests (those would change what is served or
 * packaged), plus `extra`.
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('CGI_') || k === 'IS_OFFLINE' || k === 'PORT' || k === 'LAMBDA_PORT') continue;
    env[k] = v;
  }
  // The SDK's notice about future Node versions is noise in the logs read by the tests.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  return { ...env, ...extra };
}

/** Every process group these helpers started and have not seen end; killed if the test process exits early. */
const liveGroups = new Set<number>();
process.on('exit', () => {
  for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
});

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((ok) => {
    const timer = setTimeout(() => ok(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      ok(true);
    });
  });
}

export interface OfflineOptions {
  /** --param=api=...: 'http' (HTTP API, the default) or 'rest' (REST API under /dev). */
  api?: 'http' | 'rest';
  /** Extra environment, e.g. CGI_ROOT, as `CGI_ROOT=/dir npm start` would pass it. */
  env?: Record<string, string>;
  /** How long to wait for "Server ready" (the build runs first). */
  startTimeoutMs?: number;
}

export interface Offline {
  /** http://localhost:PORT */
  origin: string;
  /** Where the site's root is: origin, plus /dev for the REST API. */
  base: string;
  /** The stage prefix of every site URL: '' or '/dev'. */
  stagePath: string;
  port: number;
  lambdaPort: number;
  pid: number;
  /** Everything the server wrote so far, stdout and stderr interleaved (for error messages). */
  log(): string;
  /** What it wrote to each stream: complete lines, each stream on its own. */
  stdout(): string;
  stderr(): string;
  /** SIGTERM, wait for the exit; SIGKILL the whole process group if it lingers. */
  stop(): Promise<void>;
}

const READY = /Server ready: (http:\/\/\S+)/;

async function startOnce(opts: OfflineOptions): Promise<Offline | 'port-taken'> {
  const api = opts.api ?? 'http';
  const [port, lambdaPort] = [await freePort(), await freePort()];
  const child = spawn(SERVERLESS, ['offline', 'start', `--param=api=${api}`], {
    cwd: REPO,
    env: childEnv({ ...opts.env, PORT: String(port), LAMBDA_PORT: String(lambdaPort) }),
    // Its own process group, so that stopping it also stops anything it started.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid!;
  liveGroups.add(pid);
  let log = '';
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    log += d.toString('utf8');
    stdout += d.toString('utf8');
  });
  child.stderr!.on('data', (d: Buffer) => {
    log += d.toString('utf8');
    stderr += d.toString('utf8');
  });

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      killGroup(pid, 'SIGTERM');
      if (!(await waitForExit(child, 15_000))) {
        killGroup(pid, 'SIGKILL');
        await waitForExit(child, 5_000);
      }
    }
    // Scripts or workers it left behind in its group go too.
    killGroup(pid, 'SIGKILL');
    liveGroups.delete(pid);
  };

  const timeoutMs = opts.startTimeoutMs ?? 60_000;
  const ready = await new Promise<'ready' | 'port-taken' | 'exit' | 'timeout'>((ok) => {
    const timer = setTimeout(() => ok('timeout'), timeoutMs);
    const check = () => {
      const seen = READY.test(stderr) ? 'ready' : /EADDRINUSE/.test(stderr) ? 'port-taken' : undefined;
      if (seen !== undefined) {
        clearTimeout(timer);
        child.stderr!.off('data', check);
        ok(seen);
      }
    };
    child.stderr!.on('data', check);
    child.once('exit', () => {
      clearTimeout(timer);
      ok('exit');
    });
  });
  if (ready === 'ready') {
    const origin = `http://localhost:${port}`;
    const stagePath = api === 'rest' ? '/dev' : '';
    const lines = (s: string) => s.slice(0, s.lastIndexOf('\n') + 1);
    return {
      origin, base: origin + stagePath, stagePath, port, lambdaPort, pid, stop,
      log: () => log,
      stdout: () => lines(stdout),
      stderr: () => lines(stderr),
    };
  }
  await stop();
  if (ready === 'port-taken') return ready;
  const why = ready === 'timeout' ? `no "Server ready" within ${timeoutMs} ms` : `it exited (code ${child.exitCode}, signal ${child.signalCode})`;
  throw new Error(`serverless offline start --param=api=${api} failed: ${why}. Its output:\n${log}`);
}

/**
 * Starts serverless-offline the way `npm start` does (the build plugin runs first),
 * on free ports passed through PORT and LAMBDA_PORT. Resolves once it is ready.
 */
export async function startOffline(opts: OfflineOptions = {}): Promise<Offline> {
  // Another process may grab a free port between our check and the server's bind.
  for (let attempt = 0; attempt < 3; attempt++) {
    const started = await startOnce(opts);
    if (started !== 'port-taken') return started;
  }
  throw new Error('serverless offline: the ports picked were taken three times in a row');
}

export { startCloudFormationStub, type CloudFormationStub, type StubRequest } from '../../scripts/cloudformation-stub';
