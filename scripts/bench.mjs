// npm run bench: per-request latency of the bundled handler against the floor of a
// raw child_process.spawn of the same compiled CGI program with the same environment.
// Both run side by side in one process, interleaved in random order, so a noisy
// machine slows both alike; the ratios are what to read, not the milliseconds.
import { execFileSync, fork, spawn } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, statSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { benchPerlWorker } from './bench-perl.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist', 'handler.js');
const EXEC_WRAPPER = join(root, 'dist', 'wrapper', 'exec-wrapper');
const SMALL_RUNS = Number(process.env.BENCH_SMALL_RUNS ?? 2000);
const LARGE_RUNS = Number(process.env.BENCH_LARGE_RUNS ?? 200);
const LARGE_BYTES = 4 * 1024 * 1024;

const TINY_C = `#include <stdio.h>
int main(void) { fputs("Content-Type: text/plain\\r\\n\\r\\nhello\\n", stdout); return 0; }
`;

// Serves the file beside it (<argv[0]>.data) under a compiled-in type, as a download CGI would: headers, then the bytes.
const DATA_C = `#include <stdio.h>
#include <unistd.h>
#include <fcntl.h>
int main(int argc, char **argv) {
  (void)argc;
  char path[4096];
  snprintf(path, sizeof path, "%s.data", argv[0]);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 1;
  static char buf[1 << 16];
  printf("Content-Type: " CTYPE "\\r\\n\\r\\n");
  fflush(stdout);
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    for (ssize_t off = 0; off < n;) { ssize_t w = write(1, buf + off, (size_t)(n - off)); if (w <= 0) return 1; off += w; }
  }
  return 0;
}
`;
// Reads the whole request body and says how long it was: an upload handler.
const SINK_C = `#include <stdio.h>
#include <unistd.h>
int main(void) {
  static char buf[1 << 16];
  long total = 0;
  ssize_t n;
  while ((n = read(0, buf, sizeof buf)) > 0) total += n;
  printf("Content-Type: text/plain\\r\\n\\r\\n%ld\\n", total);
  return 0;
}
`;
// Prints its headers, then one line every STREAM_GAP_MS: time to first byte when streaming.
const LINES_C = `#include <stdio.h>
#include <unistd.h>
int main(void) {
  printf("Content-Type: text/plain\\r\\n\\r\\nfirst line\\n");
  fflush(stdout);
  for (int i = 0; i < 3; i++) { usleep(STREAM_GAP_MS * 1000); printf("line %d\\n", i); fflush(stdout); }
  return 0;
}
`;
const POST_BYTES = 5 * 1024 * 1024;
const STREAM_GAP_MS = 20;
const STREAM_RUNS = Number(process.env.BENCH_STREAM_RUNS ?? 50);

/** A deterministic text of `bytes` bytes in lines, as a report would print it. */
function text(bytes) {
  const line = 'report line with a "quoted" word, a tab\tand a few more words here\n';
  return Buffer.from(line.repeat(Math.ceil(bytes / line.length))).subarray(0, bytes);
}

function compile(dir, name, src, defines = []) {
  writeFileSync(join(dir, `${name}.c`), src);
  execFileSync('cc', ['-O2', ...defines, '-o', join(dir, 'cgi-bin', name), join(dir, `${name}.c`)]);
}

function setUp() {
  const dir = mkdtempSync(join(tmpdir(), 'lambda-cgi-bench-'));
  const bin = join(dir, 'cgi-bin');
  mkdirSync(bin);
  compile(dir, 'tiny.cgi', TINY_C);
  writeFileSync(join(bin, 'env.sh'), "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nenv -0\n");
  chmodSync(join(bin, 'env.sh'), 0o755);
  const data = Buffer.alloc(LARGE_BYTES);
  let x = 2463534242;
  for (let i = 0; i < data.length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    data[i] = x & 0xff;
  }
  compile(dir, 'file.cgi', DATA_C, ['-DCTYPE="application/octet-stream"']);
  writeFileSync(join(bin, 'file.cgi.data'), data);
  compile(dir, 'sink.cgi', SINK_C);
  compile(dir, 'lines.cgi', LINES_C, [`-DSTREAM_GAP_MS=${STREAM_GAP_MS}`]);
  for (const [name, bytes] of [['text5m.cgi', 5 * 1024 * 1024], ['text1m.cgi', 1024 * 1024]]) {
    compile(dir, name, DATA_C, ['-DCTYPE="text/plain; charset=utf-8"']);
    writeFileSync(join(bin, `${name}.data`), text(bytes));
  }
  return dir;
}

function event(path, body) {
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
      http: { method: body ? 'POST' : 'GET', path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'bench' },
      requestId: 'bench',
      stage: '$default',
    },
    ...(body ? { body: body.toString('base64'), isBase64Encoded: true } : { isBase64Encoded: false }),
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

  const floor = (file, stdin) => () =>
    new Promise((resolve, reject) => {
      const child = spawn(file, [], { env });
      const chunks = [];
      child.stdout.on('data', (c) => chunks.push(c));
      child.on('error', reject);
      child.on('close', () => resolve(Buffer.concat(chunks)));
      child.stdin.on('error', () => {});
      child.stdin.end(stdin);
    });

  async function compare(name, path, runs, check, body) {
    const ev = event(path, body);
    const viaHandler = async () => check(await handler(ev, context()));
    const viaSpawn = floor(join(dir, 'cgi-bin', path.split('/').pop()), body);
    for (let i = 0; i < Math.max(20, runs / 10); i++) {
      await viaSpawn();
      await viaHandler();
    }
    const times = [[], []];
    const fns = [viaSpawn, viaHandler];
    for (let i = 0; i < runs; i++) {
      const order = Math.random() < 0.5 ? [0, 1] : [1, 0];
      for (const j of order) {
        const t = process.hrtime.bigint();
        await fns[j]();
        times[j].push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }
    const [s, h] = times.map((t) => t.sort((a, b) => a - b));
    return {
      name,
      runs,
      spawn: { p50: percentile(s, 0.5), p99: percentile(s, 0.99) },
      handler: { p50: percentile(h, 0.5), p99: percentile(h, 0.99) },
    };
  }

  const results = [];
  for (const run of [benchSmall, benchBinary, benchPost, benchText5, benchText1]) results.push(await run(compare));
  const ttfb = await benchStreamTtfb(dir, env, context);
  process.send({ results, ttfb, maxRssKiB: process.resourceUsage().maxRSS });
}

/**
 * Time to first byte through streamHandler (no awslambda global: the bundle writes
 * the prelude itself) against the script's own first write read from a raw spawn:
 * both the time until the first body byte of a script that prints a line, then
 * pauses between lines.
 */
async function benchStreamTtfb(dir, env, context) {
  const require = createRequire(import.meta.url);
  const { streamHandler } = require(bundle);
  const file = join(dir, 'cgi-bin', 'lines.cgi');
  const floor = () =>
    new Promise((resolve, reject) => {
      const t = process.hrtime.bigint();
      let first;
      const child = spawn(file, [], { env });
      child.stdout.on('data', (c) => {
        if (first === undefined && c.includes('first line')) first = Number(process.hrtime.bigint() - t) / 1e6;
      });
      child.on('error', reject);
      child.on('close', () => resolve(first));
      child.stdin.end();
    });
  const viaHandler = async () => {
    const t = process.hrtime.bigint();
    let first;
    let seen = Buffer.alloc(0);
    const stream = new Writable({
      write(chunk, _enc, done) {
        if (first === undefined) {
          seen = Buffer.concat([seen, chunk]);
          const at = seen.indexOf(Buffer.alloc(8));
          if (at >= 0 && seen.subarray(at + 8).includes('first line')) first = Number(process.hrtime.bigint() - t) / 1e6;
        }
        done();
      },
    });
    stream.setContentType = () => {};
    await streamHandler(event('/cgi-bin/lines.cgi'), stream, context());
    await new Promise((r) => (stream.writableFinished ? r() : stream.on('finish', r)));
    if (first === undefined) throw new Error('no first line through streamHandler');
    return first;
  };
  const times = [[], []];
  for (let i = 0; i < STREAM_RUNS; i++) {
    for (const j of Math.random() < 0.5 ? [0, 1] : [1, 0]) times[j].push(await (j === 0 ? floor() : viaHandler()));
  }
  const [f, h] = times.map((t) => t.sort((a, b) => a - b));
  return { runs: STREAM_RUNS, floor: percentile(f, 0.5), handler: percentile(h, 0.5), handlerP99: percentile(h, 0.99) };
}

const expectText = (bytes) => (r) => {
  if (r.statusCode !== 200 || r.isBase64Encoded || Buffer.byteLength(r.body) !== bytes) {
    throw new Error(`bad answer: status ${r.statusCode}, ${r.body.length} chars`);
  }
};

function benchSmall(compare) {
  return compare('small response (6 B, tiny C CGI)', '/cgi-bin/tiny.cgi', SMALL_RUNS, (r) => {
    if (r.statusCode !== 200 || r.body !== 'hello\n') throw new Error(`bad answer ${JSON.stringify(r).slice(0, 200)}`);
  }).then((r) => ({ ...r, target: 1.1 }));
}

function benchBinary(compare) {
  return compare('4 MB binary response (C CGI)', '/cgi-bin/file.cgi', LARGE_RUNS, (r) => {
    if (r.statusCode !== 200 || !r.isBase64Encoded || r.body.length !== Math.ceil(LARGE_BYTES / 3) * 4) {
      throw new Error(`bad answer: status ${r.statusCode}, ${r.body.length} chars`);
    }
  }).then((r) => ({ ...r, target: 1.3 }));
}

function benchPost(compare) {
  const body = Buffer.alloc(POST_BYTES, 0xa5);
  for (let i = 0; i < body.length; i += 7) body[i] = i & 0xff;
  return compare('5 MB binary POST (base64 in)', '/cgi-bin/sink.cgi', LARGE_RUNS, (r) => {
    if (r.statusCode !== 200 || r.body !== `${POST_BYTES}\n`) throw new Error(`bad answer ${JSON.stringify(r).slice(0, 200)}`);
  }, body).then((r) => ({ ...r, target: 1.5 }));
}

function benchText5(compare) {
  return compare('5 MB text response', '/cgi-bin/text5m.cgi', LARGE_RUNS, expectText(5 * 1024 * 1024))
    .then((r) => ({ ...r, target: 1.5 }));
}

function benchText1(compare) {
  return compare('1 MB text response', '/cgi-bin/text1m.cgi', LARGE_RUNS, expectText(1024 * 1024))
    .then((r) => ({ ...r, target: 1.3 }));
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
 * The survivor census's own cost: the small request, as an unprivileged uid
 * (as on Lambda; a fresh uid when the bench runs as root, so that the census
 * meets only its own processes) with CGI_SWEEP=on, alternating at random with
 * the same request with the census switched off (setSweeping) in the same process.
 */
async function censusWorker() {
  const require = createRequire(import.meta.url);
  const { handler, setSweeping } = require(bundle);
  let n = 0;
  const context = () => ({ awsRequestId: `census-${n++}`, getRemainingTimeInMillis: () => 30_000 });
  const ev = event('/cgi-bin/tiny.cgi');
  await handler(ev, context());
  const on = setSweeping(true);
  const run = async (census) => {
    setSweeping(census && on);
    const r = await handler(ev, context());
    if (r.statusCode !== 200) throw new Error(`bad answer ${JSON.stringify(r).slice(0, 200)}`);
  };
  const times = [[], []];
  for (let i = 0; i < SMALL_RUNS; i++) {
    for (const j of Math.random() < 0.5 ? [0, 1] : [1, 0]) {
      const t = process.hrtime.bigint();
      await run(j === 1);
      times[j].push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  }
  const [off, withIt] = times.map((t) => t.sort((a, b) => a - b));
  process.send({ on, uid: process.getuid(), runs: SMALL_RUNS, off: percentile(off, 0.5), with: percentile(withIt, 0.5) });
}

function runCensus(dir) {
  const uid = 300_000 + (process.pid % 100_000);
  chmodSync(dir, 0o755);
  const child = fork(fileURLToPath(import.meta.url), ['--census', dir], {
    ...(process.getuid?.() === 0 ? { uid, gid: uid } : {}),
    stdio: ['ignore', openSync('/dev/null', 'w'), 'inherit', 'ipc'],
    env: { ...process.env, CGI_ROOT: join(dir, 'cgi-bin'), CGI_DOCUMENT_ROOT: dir, CGI_SWEEP: 'on' },
  });
  return new Promise((resolve, reject) => {
    child.on('message', (m) => {
      child.disconnect();
      resolve(m);
    });
    child.on('exit', (code) => code !== 0 && reject(new Error(`census worker exited with ${code}`)));
  });
}

async function main() {
  const dir = setUp();
  try {
    const devnull = openSync('/dev/null', 'w');
    // Started as Lambda starts the runtime: through the exec wrapper, so descriptors this
    // shell left open are marked close-on-exec (nodump.c) instead of covered per spawn.
    const child = fork(fileURLToPath(import.meta.url), ['--worker', dir], {
      execPath: EXEC_WRAPPER,
      execArgv: [process.execPath],
      stdio: ['ignore', devnull, 'inherit', 'ipc'],
      env: { ...process.env, CGI_ROOT: join(dir, 'cgi-bin'), CGI_DOCUMENT_ROOT: dir },
    });
    const report = await new Promise((resolve, reject) => {
      child.on('message', resolve);
      child.on('exit', (code) => code !== 0 && reject(new Error(`bench worker exited with ${code}`)));
    });
    child.disconnect();

    const fmt = (n) => n.toFixed(3).padStart(8);
    console.log(`lambda-cgi benchmark  (node ${process.version}, ${new Date().toISOString()})`);
    console.log('latency in ms; floor = raw child_process.spawn of the same program with the same environment,');
    console.log('both in one Node process started through dist/wrapper/exec-wrapper, as on Lambda; the handler');
    console.log(`with cgi-spawner ${process.env.CGI_SPAWNER === 'off' ? 'OFF (CGI_SPAWNER=off)' : 'on (the default)'} and the Perl worker on\n`);
    console.log('case                                   runs   floor p50  floor p99  handler p50  handler p99  p50 ratio  target');
    report.results.forEach((r) => {
      const ratio = r.handler.p50 / r.spawn.p50;
      console.log(
        `${r.name.padEnd(38)} ${String(r.runs).padStart(5)}  ${fmt(r.spawn.p50)}   ${fmt(r.spawn.p99)}   ${fmt(r.handler.p50)}     ${fmt(r.handler.p99)}     ${ratio.toFixed(3).padStart(6)}   <= ${r.target} ${ratio <= r.target ? 'ok' : 'MISSED'}`,
      );
    });
    const t = report.ttfb;
    console.log(
      `\nstreaming time to first byte (script prints a line, then ${STREAM_GAP_MS} ms pauses; ${t.runs} runs): ` +
        `script's first write ${t.floor.toFixed(2)} ms, through streamHandler ${t.handler.toFixed(2)} ms p50 ` +
        `(${t.handler >= t.floor ? '+' : ''}${(t.handler - t.floor).toFixed(2)} ms), ${t.handlerP99.toFixed(2)} ms p99`,
    );
    const c = await runCensus(dir);
    console.log(
      `\nsurvivor census (CGI_SWEEP=on, uid ${c.uid}, census ${c.on ? 'on' : 'OFF'}), small response, ${c.runs} runs each: ` +
        `p50 ${c.with.toFixed(3)} ms with it, ${c.off.toFixed(3)} ms without (${c.with - c.off >= 0 ? '+' : ''}${(c.with - c.off).toFixed(3)} ms)`,
    );
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
    await benchPerlWorker();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--worker') await worker(process.argv[3]);
else if (process.argv[2] === '--census') await censusWorker();
else await main();
