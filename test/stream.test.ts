/**
 * Response streaming: the real streamHandler driven by a faithful stand-in for
 * Lambda's runtime (scripts/lambda-stream-local.ts), real scripts, real bytes.
 * Large downloads are hashed as they arrive, never held; timing is only ever
 * asserted as ordering (the first chunk before the script's last line) or as a
 * loose "did not hang" bound.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { get } from 'node:http';
import { join } from 'node:path';
import { loadConfig } from '../handler/config';
import { createHandler, createStreamHandler } from '../handler/index';
import { createLogger } from '../handler/log';
import { installAwsLambda, invokeStreaming, PRELUDE_TYPE, ResponseStream, type StreamedAnswer, type StreamingHandler } from '../scripts/lambda-stream-local';
import { answerOf, functionUrlEvent, restEvent, type Event } from './support/events';
import { jsonLines } from './support/processes';
import { cleanup, compileC, makeTree } from './support/site';

const REPO = join(__dirname, '..');

// Writes QUERY_STRING bytes of xorshift32 output after its headers, 64 KiB at a time.
const BYTES_C = `#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <unistd.h>
int main(void) {
  const char *q = getenv("QUERY_STRING");
  long n = q ? atol(q) : 0;
  uint32_t x = 2463534242u;
  static unsigned char buf[65536];
  printf("Content-Type: application/octet-stream\\r\\nContent-Length: %ld\\r\\n\\r\\n", n);
  fflush(stdout);
  while (n > 0) {
    size_t len = n < (long)sizeof buf ? (size_t)n : sizeof buf;
    for (size_t i = 0; i < len; i++) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; buf[i] = x & 0xff; }
    for (size_t off = 0; off < len;) { ssize_t w = write(1, buf + off, len - off); if (w <= 0) return 1; off += (size_t)w; }
    n -= (long)len;
  }
  return 0;
}
`;

/** sha256 of what BYTES_C writes for `n`, computed in chunks. */
function expectedHash(n: number): string {
  const h = createHash('sha256');
  const buf = Buffer.alloc(65536);
  let x = 2463534242;
  while (n > 0) {
    const len = Math.min(n, buf.length);
    for (let i = 0; i < len; i++) {
      x = (x ^ (x << 13)) >>> 0;
      x = (x ^ (x >>> 17)) >>> 0;
      x = (x ^ (x << 5)) >>> 0;
      buf[i] = x & 0xff;
    }
    h.update(buf.subarray(0, len));
    n -= len;
  }
  return h.digest('hex');
}

const LINES_SH = `#!/bin/sh
printf 'Content-Type: text/plain\\n\\n'
for i in 1 2 3; do
  echo "line $i $(date +%s%3N)"
  sleep 1
done
`;

const NPH_SH = `#!/bin/sh
printf 'HTTP/1.1 207 Multi-Status\\r\\nContent-Type: text/plain\\r\\nX-Nph: own\\r\\n\\r\\nfirst\\n'
sleep 1
printf 'second\\n'
`;

const COOKIES_SH = `#!/bin/sh
printf 'Content-Type: text/html\\nSet-Cookie: a=1; Path=/\\nX-Thing: one\\nSet-Cookie: b=2, c=3; HttpOnly\\nX-Thing: two\\nSet-Cookie: d=4\\n\\n<p>hi</p>\\n'
`;

const STALL_SH = `#!/bin/sh
printf 'Content-Type: text/plain\\n\\npartial\\n'
exec sleep 30
`;

const SILENT_SH = `#!/bin/sh
exec sleep 30
`;

const REDIRECT_SH = `#!/bin/sh
printf 'Location: /cgi-bin/target.sh?from=redirect\\n\\nthis body is dropped\\n'
`;

const TARGET_SH = `#!/bin/sh
printf 'Content-Type: text/plain\\n\\ntarget saw %s\\n' "$QUERY_STRING"
`;

const BROKEN_SH = `#!/bin/sh
printf 'no headers at all\\n'
`;

// Echoes what identifies its request, after a pause that shuffles the order requests finish in.
const ECHO_PL = `#!/usr/bin/perl
binmode STDIN; binmode STDOUT;
my $body = do { local $/; <STDIN> } // '';
my ($d) = $ENV{QUERY_STRING} =~ /d=(\\d+)/;
select(undef, undef, undef, ($d // 0) / 1000);
print "Content-Type: text/plain\\n\\nquery=$ENV{QUERY_STRING}\\nid=$ENV{UNIQUE_ID}\\nbody=$body\\n";
`;

const ETAG_SH = `#!/bin/sh
printf 'Content-Type: text/plain\\nETag: "v1"\\n\\nthe body of v1\\n'
`;

const FLOOD_SH = `#!/bin/sh
printf 'Content-Type: text/plain\\n\\n'
exec yes 'an endless report line'
`;

const SLOW_SH = `#!/bin/sh
sleep 2
printf 'Content-Type: text/plain\\n\\nslow done\\n'
`;

interface Streamed {
  head: StreamedAnswer;
  body: Buffer;
  chunks: Array<{ at: number; bytes: Buffer }>;
}

const BIG = Buffer.alloc(3 * 1024 * 1024 + 123);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 2654435761) >>> 24;

let dir: string;
const out: string[] = [];
const err: string[] = [];

function streamer(env: Record<string, string> = {}, streamMaxBytes?: number): StreamingHandler {
  const config = loadConfig({ PATH: process.env.PATH, CGI_ROOT: join(dir, 'cgi-bin'), CGI_DOCUMENT_ROOT: join(dir, 'htdocs'), ...env });
  const logger = createLogger('json', (s) => void out.push(s), (s) => void err.push(s));
  return createStreamHandler({ config, logger, streamMaxBytes }) as unknown as StreamingHandler;
}

async function stream(handler: StreamingHandler, event: Event, context: object = { awsRequestId: 'req-s' }): Promise<Streamed> {
  let head: StreamedAnswer | undefined;
  const chunks: Streamed['chunks'] = [];
  await invokeStreaming(handler, event, context, (h) => (head = h), (bytes, done) => {
    chunks.push({ at: Date.now(), bytes: Buffer.from(bytes) });
    done();
  });
  if (head === undefined) throw new Error('no prelude was written');
  return { head, body: Buffer.concat(chunks.map((c) => c.bytes)), chunks };
}

/** Everything the handler wrote to the runtime's stream, undecoded, and its content type. */
async function wire(handler: StreamingHandler, event: Event): Promise<{ type: string; bytes: Buffer }> {
  const parts: Buffer[] = [];
  const rs = new ResponseStream((c, done) => {
    parts.push(Buffer.from(c));
    done();
  });
  const finished = new Promise((resolve) => rs.on('finish', resolve));
  await handler(event, rs, { awsRequestId: 'req-w' });
  await finished;
  return { type: rs.contentType, bytes: Buffer.concat(parts) };
}

const headerOf = (s: Streamed, name: string) => s.head.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);

beforeAll(() => {
  installAwsLambda();
  dir = makeTree({
    'cgi-bin/lines.sh': LINES_SH,
    'cgi-bin/nph-live.sh': NPH_SH,
    'cgi-bin/cookies.sh': COOKIES_SH,
    'cgi-bin/stall.sh': STALL_SH,
    'cgi-bin/silent.sh': SILENT_SH,
    'cgi-bin/redirect.sh': REDIRECT_SH,
    'cgi-bin/target.sh': TARGET_SH,
    'cgi-bin/broken.sh': BROKEN_SH,
    'cgi-bin/echo.pl': ECHO_PL,
    'cgi-bin/slow.sh': SLOW_SH,
    'cgi-bin/etag.sh': ETAG_SH,
    'cgi-bin/flood.sh': FLOOD_SH,
    'htdocs/big.bin': { content: BIG, mode: 0o644 },
    'htdocs/page.html': { content: '<h1>static</h1>\n', mode: 0o644 },
  });
  compileC(BYTES_C, join(dir, 'cgi-bin', 'bytes.cgi'));
});

afterAll(() => cleanup(dir));

beforeEach(() => {
  out.length = 0;
  err.length = 0;
});

describe('the bundle', () => {
  it('loads where no awslambda global exists and exports both handlers, the streaming one marked as the runtime marks it', () => {
    const probe = spawn(process.execPath, ['-e', `
      const h = require(${JSON.stringify(join(REPO, 'dist', 'handler.js'))});
      console.log(JSON.stringify({ global: typeof awslambda, handler: typeof h.handler, stream: typeof h.streamHandler,
        mark: h.streamHandler[Symbol.for('aws.lambda.runtime.handler.streaming')] }));`]);
    let text = '';
    probe.stdout.on('data', (c) => (text += c));
    return new Promise<void>((resolve) => probe.on('close', (code) => {
      expect(code).toBe(0);
      expect(JSON.parse(text)).toEqual({ global: 'undefined', handler: 'function', stream: 'function', mark: 'response' });
      resolve();
    }));
  });
});

describe('streamHandler', () => {
  it.each([20 * 1024 * 1024, 150 * 1024 * 1024])('a %i-byte download arrives byte-identical, in many chunks', async (n) => {
    const h = streamer({ CGI_TIMEOUT_MS: '120000' });
    const hash = createHash('sha256');
    let bytes = 0;
    let chunks = 0;
    let head: StreamedAnswer | undefined;
    await invokeStreaming(h, functionUrlEvent({ path: '/cgi-bin/bytes.cgi', query: String(n) }), { awsRequestId: 'big' }, (a) => (head = a), (c, done) => {
      hash.update(c);
      bytes += c.length;
      chunks++;
      done();
    });
    expect(head?.statusCode).toBe(200);
    expect(head?.headers).toContainEqual(['Content-Length', String(n)]);
    expect(bytes).toBe(n);
    expect(chunks).toBeGreaterThan(10);
    expect(hash.digest('hex')).toBe(expectedHash(n));
    const access = jsonLines(out).find((l) => l.type === 'access');
    expect(access).toMatchObject({ status: 200, bytes: n });
  }, 180_000);

  it('past the streaming limit (200 MB; 1 MB here) the stream ends at the limit, the script is stopped and it is logged', async () => {
    const limit = 1024 * 1024;
    const started = Date.now();
    const s = await stream(streamer({}, limit), functionUrlEvent({ path: '/cgi-bin/bytes.cgi', query: String(50 * limit) }));
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(s.head.statusCode).toBe(200);
    expect(s.body.length).toBe(limit);
    expect(createHash('sha256').update(s.body).digest('hex')).toBe(expectedHash(limit));
    expect(jsonLines(err).map((l) => l.message)).toContainEqual(expect.stringContaining('reached the streaming limit'));
  });

  it('writes the JSON prelude, exactly 8 NUL bytes, then the body; every Set-Cookie in cookies (Function URL)', async () => {
    const { type, bytes } = await wire(streamer(), functionUrlEvent({ path: '/cgi-bin/cookies.sh' }));
    expect(type).toBe(PRELUDE_TYPE);
    const end = bytes.indexOf(Buffer.alloc(8));
    const prelude = JSON.parse(bytes.subarray(0, end).toString());
    expect(prelude).toEqual({
      statusCode: 200,
      headers: { 'Content-Type': 'text/html', 'X-Thing': 'one, two' },
      cookies: ['a=1; Path=/', 'b=2, c=3; HttpOnly', 'd=4'],
    });
    expect(bytes.subarray(end + 8).toString()).toBe('<p>hi</p>\n');
  });

  it('REST: the prelude carries multiValueHeaders with every Set-Cookie', async () => {
    const s = await stream(streamer(), restEvent({ path: '/cgi-bin/cookies.sh' }));
    expect(s.head.prelude.statusCode).toBe(200);
    expect((s.head.prelude.multiValueHeaders as Record<string, string[]>)['Set-Cookie']).toEqual(['a=1; Path=/', 'b=2, c=3; HttpOnly', 'd=4']);
    expect(s.body.toString()).toBe('<p>hi</p>\n');
  });

  it('without the awslambda global, writes the same bytes by hand', async () => {
    const event = functionUrlEvent({ path: '/cgi-bin/cookies.sh' });
    const withRuntime = await wire(streamer(), event);
    const saved = (globalThis as { awslambda?: unknown }).awslambda;
    delete (globalThis as { awslambda?: unknown }).awslambda;
    try {
      const bare = await wire(streamer(), event);
      expect(bare.type).toBe(PRELUDE_TYPE);
      expect(bare.bytes.equals(withRuntime.bytes)).toBe(true);
    } finally {
      (globalThis as { awslambda?: unknown }).awslambda = saved;
    }
  });

  it('nph- scripts stream their own status line and headers, and their body as they write it', async () => {
    const s = await stream(streamer(), functionUrlEvent({ path: '/cgi-bin/nph-live.sh' }));
    expect(s.head.statusCode).toBe(207);
    expect(headerOf(s, 'x-nph')).toEqual(['own']);
    expect(s.body.toString()).toBe('first\nsecond\n');
    const first = s.chunks.findIndex((c) => c.bytes.includes('first'));
    const second = s.chunks.findIndex((c) => c.bytes.includes('second'));
    expect(first).toBeLessThan(second);
    expect(s.chunks[second].at - s.chunks[first].at).toBeGreaterThan(500);
  });

  it('a timeout after the headers ends the stream with what was sent and logs it', async () => {
    const started = Date.now();
    const s = await stream(streamer({ CGI_TIMEOUT_MS: '1000' }), functionUrlEvent({ path: '/cgi-bin/stall.sh' }));
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(s.head.statusCode).toBe(200);
    expect(s.body.toString()).toBe('partial\n');
    expect(jsonLines(err).map((l) => l.message)).toContainEqual(expect.stringContaining('after sending its headers'));
  });

  it('a timeout before the headers is still a 504 page', async () => {
    const s = await stream(streamer({ CGI_TIMEOUT_MS: '500' }), functionUrlEvent({ path: '/cgi-bin/silent.sh' }));
    expect(s.head.statusCode).toBe(504);
    expect(s.body.toString()).toContain('Gateway Timeout');
  });

  it('a local redirect is followed, the first body dropped', async () => {
    const s = await stream(streamer(), functionUrlEvent({ path: '/cgi-bin/redirect.sh' }));
    expect(s.head.statusCode).toBe(200);
    expect(s.body.toString()).toBe('target saw from=redirect\n');
  });

  it('output without a header block is a 500 page, the output never sent', async () => {
    const s = await stream(streamer(), functionUrlEvent({ path: '/cgi-bin/broken.sh' }));
    expect(s.head.statusCode).toBe(500);
    expect(s.body.toString()).not.toContain('no headers');
  });

  it("a script's own validators answer a conditional GET with a 304 and no body, as when buffered", async () => {
    const s = await stream(streamer(), functionUrlEvent({ path: '/cgi-bin/etag.sh', headers: { 'if-none-match': '"v1"' } }));
    expect(s.head.statusCode).toBe(304);
    expect(s.body.length).toBe(0);
    const fresh = await stream(streamer(), functionUrlEvent({ path: '/cgi-bin/etag.sh', headers: { 'if-none-match': '"v0"' } }));
    expect(fresh.head.statusCode).toBe(200);
    expect(fresh.body.toString()).toBe('the body of v1\n');
  });

  it('static files are read from disk as the stream takes them: whole, and a single range', async () => {
    const whole = await stream(streamer(), functionUrlEvent({ path: '/big.bin' }));
    expect(whole.head.statusCode).toBe(200);
    expect(whole.body.equals(BIG)).toBe(true);
    expect(whole.chunks.length).toBeGreaterThan(1);
    const part = await stream(streamer(), functionUrlEvent({ path: '/big.bin', headers: { range: 'bytes=1000000-2000000' } }));
    expect(part.head.statusCode).toBe(206);
    expect(part.head.headers).toContainEqual(['Content-Length', '1000001']);
    expect(part.body.equals(BIG.subarray(1_000_000, 2_000_001))).toBe(true);
    expect(jsonLines(out).filter((l) => l.type === 'access').map((l) => l.bytes)).toEqual([BIG.length, 1_000_001]);
  });

  it('a client that goes away stops the script: the handler returns and says so', async () => {
    const started = Date.now();
    let chunks = 0;
    const invoked = invokeStreaming(streamer({ CGI_TIMEOUT_MS: '60000' }), functionUrlEvent({ path: '/cgi-bin/flood.sh' }), { awsRequestId: 'gone' }, () => {}, (_c, done) => {
      chunks++;
      done(chunks >= 3 ? new Error('client went away') : undefined);
    });
    await expect(invoked).rejects.toThrow('client went away');
    // The stream failed at once; the handler itself must also come back, with the script stopped.
    const deadline = Date.now() + 20_000;
    while (!jsonLines(out).some((l) => l.type === 'access' && l.requestId === 'gone') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(jsonLines(err)).toContainEqual(expect.objectContaining({ requestId: 'gone', message: expect.stringContaining('client went away') }));
  });

  it('HEAD: headers, no body', async () => {
    const s = await stream(streamer(), functionUrlEvent({ method: 'HEAD', path: '/cgi-bin/cookies.sh' }));
    expect(s.head.statusCode).toBe(200);
    expect(s.body.length).toBe(0);
  });

  it('static files and error pages go out whole through the same stream', async () => {
    const page = await stream(streamer({ CGI_PREFIX: '/cgi-bin' }), functionUrlEvent({ path: '/page.html' }));
    expect(page.head.statusCode).toBe(200);
    expect(page.body.toString()).toBe('<h1>static</h1>\n');
    const missing = await stream(streamer(), functionUrlEvent({ path: '/cgi-bin/nothing-here' }));
    expect(missing.head.statusCode).toBe(404);
  });
});

describe('concurrency', () => {
  it('50 interleaved requests through one handler instance each get their own answer', async () => {
    const config = loadConfig({ PATH: process.env.PATH, CGI_ROOT: join(dir, 'cgi-bin') });
    const handler = createHandler({ config, logger: createLogger('json', (s) => void out.push(s), (s) => void err.push(s)) });
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const delay = (i * 37) % 200;
        const event = functionUrlEvent({ method: 'POST', path: '/cgi-bin/echo.pl', query: `n=${i}&d=${delay}`, body: `payload ${i} ${'x'.repeat(i * 100)}` });
        return handler(event, { awsRequestId: `req-${i}`, xRayTraceId: `Root=1-0-${i}` } as object).then((r) => [i, answerOf(r as Event)] as const);
      }),
    );
    for (const [i, a] of answers) {
      expect(a.status).toBe(200);
      expect(a.body.toString()).toBe(`query=n=${i}&d=${(i * 37) % 200}\nid=req-${i}\nbody=payload ${i} ${'x'.repeat(i * 100)}\n`);
    }
    const access = jsonLines(out).filter((l) => l.type === 'access');
    expect(access).toHaveLength(50);
    for (const line of access) {
      const i = Number(line.requestId.slice(4));
      expect(line.uri).toBe(`/cgi-bin/echo.pl?n=${i}&d=${(i * 37) % 200}`);
      expect(line.traceId).toBe(`Root=1-0-${i}`);
    }
  }, 60_000);

  it('20 interleaved streams through one streamHandler each carry their own bytes', async () => {
    const h = streamer();
    const all = await Promise.all(
      Array.from({ length: 20 }, (_, i) => stream(h, functionUrlEvent({ path: '/cgi-bin/bytes.cgi', query: String(100_000 + i * 7919) }), { awsRequestId: `s-${i}` })),
    );
    all.forEach((s, i) => {
      const n = 100_000 + i * 7919;
      expect(createHash('sha256').update(s.body).digest('hex')).toBe(expectedHash(n));
    });
  }, 60_000);

  it('CGI_MAX_CONCURRENCY: a script over the cap is answered 503 with Retry-After, and the slots come back', async () => {
    const config = loadConfig({ PATH: process.env.PATH, CGI_ROOT: join(dir, 'cgi-bin'), CGI_MAX_CONCURRENCY: '2' });
    const handler = createHandler({ config, logger: createLogger('json', (s) => void out.push(s), (s) => void err.push(s)) });
    const slow = [1, 2].map((i) => handler(functionUrlEvent({ path: '/cgi-bin/slow.sh' }), { awsRequestId: `slow-${i}` }));
    await new Promise((r) => setTimeout(r, 200));
    const refused = answerOf((await handler(functionUrlEvent({ path: '/cgi-bin/target.sh' }), { awsRequestId: 'third' })) as Event);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toEqual(['1']);
    expect(jsonLines(err)).toContainEqual(expect.objectContaining({ requestId: 'third', message: expect.stringContaining('CGI_MAX_CONCURRENCY=2') }));
    for (const r of await Promise.all(slow)) expect(answerOf(r as Event).body.toString()).toBe('slow done\n');
    const after = answerOf((await handler(functionUrlEvent({ path: '/cgi-bin/target.sh' }), { awsRequestId: 'fourth' })) as Event);
    expect(after.status).toBe(200);
  }, 30_000);
});

describe('npm run start:stream (the local streaming front door, the real bundle, a real HTTP client)', () => {
  let server: ChildProcess;
  let port: number;

  beforeAll(async () => {
    server = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'scripts', 'stream-server.ts')], {
      cwd: REPO,
      env: { ...process.env, PORT: '0', CGI_ROOT: join(dir, 'cgi-bin'), CGI_DOCUMENT_ROOT: join(dir, 'htdocs') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    port = await new Promise<number>((resolve, reject) => {
      let text = '';
      server.stdout!.on('data', (c) => {
        text += c;
        const m = /localhost:(\d+)/.exec(text);
        if (m) resolve(Number(m[1]));
      });
      server.on('exit', (code) => reject(new Error(`stream server exited with ${code}`)));
    });
  }, 30_000);

  afterAll(() => {
    server.kill();
  });

  it('a script printing a line a second: its first line arrives before its last is written', async () => {
    const requested = Date.now();
    const chunks: Array<{ at: number; text: string }> = [];
    const status = await new Promise<number>((resolve, reject) => {
      get(`http://localhost:${port}/cgi-bin/lines.sh`, (res) => {
        res.on('data', (c: Buffer) => chunks.push({ at: Date.now(), text: c.toString() }));
        res.on('end', () => resolve(res.statusCode!));
      }).on('error', reject);
    });
    expect(status).toBe(200);
    const lines = chunks.map((c) => c.text).join('').trim().split('\n');
    expect(lines.map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(['line 1', 'line 2', 'line 3']);
    const written = lines.map((l) => Number(l.split(' ')[2]));
    expect(chunks[0].text).toContain('line 1');
    // Ordering, not speed: the first line was in the client's hands while the script still had two to write.
    expect(chunks[0].at).toBeLessThan(written[2]);
    expect(chunks[0].at).toBeLessThan(written[1]);
    // A loose "not buffered" bound for a loaded machine: well under the script's one-second pauses.
    expect(chunks[0].at - written[0]).toBeLessThan(900);
    expect(chunks[0].at - requested).toBeLessThan(5000);
  }, 30_000);
});
