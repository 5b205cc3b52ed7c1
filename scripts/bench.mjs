// npm run bench: per-request latency of the bundled handler against the floor of a
// raw child_process.spawn of the same compiled CGI program with the same environment.
// Both run side by side in one process, interleaved in random order, so a noisy
// machine slows both alike; the ratios are what to read, not the milliseconds.
import { execFileSync, fork, spawn } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, statSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist', 'handler.js');
const SMALL_RUNS = Number(process.env.BENCH_SMALL_RUNS ?? 2000);
const LARGE_RUNS = Number(process.env.BENCH_LARGE_RUNS ?? 200);
const SHELL_RUNS = Number(process.env.BENCH_SHELL_RUNS ?? 500);
const LARGE_BYTES = 4 * 1024 * 1024;

const TINY_C = `#include <stdio.h>
int main(void) { fputs("Content-Type: text/plain\\r\\n\\r\\nhello\\n", stdout); return 0; }
`;
// Serves a prepared file, as a download CGI would: headers, then the bytes.
const FILE_C = `#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>
int main(int argc, char **argv) {
  (void)argc; (void)argv;
  const char *path = getenv("BENCH_FILE");
  int fd = open(path ? path : "", O_RDONLY);
  if (fd < 0) return 1;
  static char buf[1 << 16];
  printf("Content-Type: application/octet-stream\\r\\n\\r\\n");
  fflush(stdout);
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    for (ssize_t off = 0; off < n;) { ssize_t w = write(1, buf + off, (size_t)(n - off)); if (w <= 0) return 1; off += w; }
  }
  return 0;
}
`;

function setUp() {
  const dir = mkdtempSync(join(tmpdir(), 'lambda-cgi-bench-'));
  const bin = join(dir, 'cgi-bin');
  mkdirSync(bin);
  for (const [name, src] of [['tiny.cgi', TINY_C], ['file.cgi', FILE_C]]) {
    writeFileSync(join(dir, `${name}.c`), src);
    execFileSync('cc', ['-O2', '-o', join(bin, name), join(dir, `${name}.c`)]);
  }
  writeFileSync(join(bin, 'env.sh'), "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nenv -0\n");
  chmodSync(join(bin, 'env.sh'), 0o755);
  // A shell script that runs one command: the census then has pids to look at.
  writeFileSync(join(bin, 'fork.sh'), "#!/bin/sh\n/bin/true\nprintf 'Content-Type: text/plain\\n\\nhello\\n'\n");
  chmodSync(join(bin, 'fork.sh'), 0o755);
  // The worker may run as another uid (see censusWorker): everything must be readable.
  chmodSync(dir, 0o755);
  const data = Buffer.alloc(LARGE_BYTES);
  let x = 2463534242;
  for (let i = 0; i < data.length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    data[i] = x & 0xff;
  }
  writeFileSync(join(dir, 'data.bin'), data);
  return dir;
}

function event(path) {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: {
      host: 'abc123.execute-api.us-east-1.amazonaws.com',
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
      accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
      'accept-language': 'en-US,en;q=0.9',
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
      'x-amzn-trace-id': 'Root=1-67891233-abcdef012345678912345678',
    },
    requestContext: {
      domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
      http: { method: 'GET', path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'bench' },
      requestId: 'bench',
      stage: '$default',
    },
    isBase64Encoded: false,
  };
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

/** Runs inside the worker, whose stdout (the access log) goes to /dev/null. */
async function worker(dir) {
  const require = createRequire(import.meta.url);
  const { handler } = require(bundle);
  let n = 0;
  const context = () => ({ awsRequestId: `bench-${n++}`, getRemainingTimeInMillis: () => 30_000 });

  const envAnswer = await handler(event('/cgi-bin/env.sh'), context());
  const env = {};
  for (const entry of Buffer.from(envAnswer.body, 'utf8').toString().split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }

  const floor = (file) => () =>
    new Promise((resolve, reject) => {
      const child = spawn(file, [], { env });
      const chunks = [];
      child.stdout.on('data', (c) => chunks.push(c));
      child.on('error', reject);
      child.on('close', () => resolve(Buffer.concat(chunks)));
      child.stdin.end();
    });

  // The census toggled per request in the same process, so its cost is read side by side too.
  const { setSweeping } = require(bundle);
  const censusOn = setSweeping(true);
  const withoutCensus = (fn) => async () => {
    setSweeping(false);
    try {
      return await fn();
    } finally {
      setSweeping(censusOn);
    }
  };

  async function compare(name, path, runs, check) {
    const viaHandler = async () => check(await handler(event(path), context()));
    const viaSpawn = floor(join(dir, 'cgi-bin', path.split('/').pop()));
    const fns = [viaSpawn, viaHandler, withoutCensus(viaHandler)];
    for (let i = 0; i < Math.max(20, runs / 10); i++) for (const fn of fns) await fn();
    const times = fns.map(() => []);
    for (let i = 0; i < runs; i++) {
      const order = [0, 1, 2].sort(() => Math.random() - 0.5);
      for (const j of order) {
        const t = process.hrtime.bigint();
        await fns[j]();
        times[j].push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }
    const [s, h, off] = times.map((t) => t.sort((a, b) => a - b));
    return {
      name,
      runs,
      census: censusOn,
      spawn: { p50: percentile(s, 0.5), p99: percentile(s, 0.99) },
      handler: { p50: percentile(h, 0.5), p99: percentile(h, 0.99) },
      noCensus: { p50: percentile(off, 0.5) },
    };
  }

  const cases = {
    small: () => compare('small response (6 B, tiny C CGI)', '/cgi-bin/tiny.cgi', SMALL_RUNS, (r) => {
      if (r.statusCode !== 200 || r.body !== 'hello\n') throw new Error(`bad answer ${JSON.stringify(r).slice(0, 200)}`);
    }),
    large: () => compare('4 MB binary response (C CGI)', '/cgi-bin/file.cgi', LARGE_RUNS, (r) => {
      if (r.statusCode !== 200 || !r.isBase64Encoded || r.body.length !== Math.ceil(LARGE_BYTES / 3) * 4) {
        throw new Error(`bad answer: status ${r.statusCode}, ${r.body.length} chars`);
      }
    }),
    shell: () => compare('shell script running one command', '/cgi-bin/fork.sh', SHELL_RUNS, (r) => {
      if (r.statusCode !== 200 || r.body !== 'hello\n') throw new Error(`bad answer ${JSON.stringify(r).slice(0, 200)}`);
    }),
  };
  const results = [];
  for (const name of (process.env.BENCH_CASES ?? 'small,large').split(',')) results.push(await cases[name]());
  process.send({ results, uid: process.getuid(), maxRssKiB: process.resourceUsage().maxRSS });
}

/** Milliseconds a fresh Node process takes to require `what`, sorted. */
function requireTimes(what, runs) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(process.execPath, [
      '-e',
      `const t=process.hrtime.bigint();require(${JSON.stringify(what)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`,
    ]);
    times.push(Number(out));
  }
  return times.sort((a, b) => a - b);
}

/**
 * One bench worker: the bundle in a process of its own, its access log to
 * /dev/null. `unprivileged`: as on Lambda, as an unprivileged uid (a fresh one,
 * when the bench runs as root), so that the survivor census really runs.
 */
function runWorker(dir, cases, env, { unprivileged = false } = {}) {
  const devnull = openSync('/dev/null', 'w');
  const asUser = unprivileged && process.getuid?.() === 0 ? { uid: BENCH_UID, gid: BENCH_UID } : {};
  const child = fork(fileURLToPath(import.meta.url), ['--worker', dir], {
    ...asUser,
    stdio: ['ignore', devnull, 'inherit', 'ipc'],
    env: {
      ...process.env, CGI_ROOT: join(dir, 'cgi-bin'), CGI_DOCUMENT_ROOT: dir, BENCH_FILE: join(dir, 'data.bin'),
      CGI_PASS_ENV: 'BENCH_FILE', BENCH_CASES: cases, ...env,
    },
  });
  return new Promise((resolve, reject) => {
    child.on('message', (report) => {
      child.disconnect();
      resolve(report);
    });
    child.on('exit', (code) => code !== 0 && reject(new Error(`bench worker exited with ${code}`)));
  });
}
/** A uid nobody else uses, so that the census in the worker meets only its own processes. */
const BENCH_UID = 300_000 + (process.pid % 100_000);

const fmt = (n) => n.toFixed(3).padStart(8);

function printCase(r, target) {
  const ratio = r.handler.p50 / r.spawn.p50;
  const verdict = target === undefined ? '' : `<= ${target} ${ratio <= target ? 'ok' : 'MISSED'}`;
  console.log(
    `${r.name.padEnd(38)} ${String(r.runs).padStart(5)}  ${fmt(r.spawn.p50)}   ${fmt(r.spawn.p99)}   ${fmt(r.handler.p50)}     ${fmt(r.handler.p99)}     ${ratio.toFixed(3).padStart(6)}   ${verdict}`,
  );
}

async function main() {
  const dir = setUp();
  try {
    const report = await runWorker(dir, 'small,large', { CGI_SWEEP: process.getuid?.() === 0 ? 'off' : 'on' });
    const [small, large] = report.results;
    const census = await runWorker(dir, 'small,shell', { CGI_SWEEP: 'on' }, { unprivileged: true });

    console.log(`lambda-cgi benchmark  (node ${process.version}, ${new Date().toISOString()})`);
    console.log('latency in ms; floor = raw child_process.spawn of the same program with the same environment\n');
    console.log('case                                   runs   floor p50  floor p99  handler p50  handler p99  p50 ratio  target');
    printCase(small, 1.1);
    printCase(large, 1.5);
    // Its requests alternate at random with the same requests with the census switched off.
    console.log(`\nsurvivor census (CGI_SWEEP=on, as uid ${census.uid}), handler p50 with it minus without it, same run:`);
    for (const r of census.results) {
      const extra = r.handler.p50 - r.noCensus.p50;
      console.log(`  ${r.name.padEnd(36)} ${extra >= 0 ? '+' : ''}${extra.toFixed(3)} ms  (census ${r.census ? 'on' : 'OFF'}; ratio to floor ${(r.handler.p50 / r.spawn.p50).toFixed(3)} with, ${(r.noCensus.p50 / r.spawn.p50).toFixed(3)} without)`);
    }
    const size = statSync(bundle).size;
    const req = requireTimes(bundle, 15);
    // The built-in the bundle cannot do without, loaded alone: the part of the time that is not ours.
    const builtin = requireTimes('node:child_process', 15);
    console.log(`\nbundle dist/handler.js: ${(size / 1024).toFixed(1)} KiB (target < 150 KB ${size < 150_000 ? 'ok' : 'MISSED'})`);
    console.log(
      `require('dist/handler.js'): p50 ${percentile(req, 0.5).toFixed(2)} ms, max ${req[req.length - 1].toFixed(2)} ms ` +
        `(15 fresh processes; require('node:child_process') alone: p50 ${percentile(builtin, 0.5).toFixed(2)} ms)`,
    );
    console.log(`worker max RSS: ${(report.maxRssKiB / 1024).toFixed(1)} MiB`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--worker') await worker(process.argv[3]);
else await main();
