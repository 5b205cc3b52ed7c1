/**
 * Bodies byte for byte: a 4 MB binary upload echoed back through a C program
 * (about the largest binary answer that fits API Gateway's 6 MB once base64),
 * every byte value in a binary download, and multibyte UTF-8 text kept as text.
 */
import { createHash } from 'node:crypto';
import { albEvent, answerOf, functionUrlEvent, httpApiEvent, restEvent, type Event } from './support/events';
import { prng, randomBytes } from './support/processes';
import { cleanup, compileC, harness, makeTree, type Harness } from './support/site';

/** Echoes stdin to stdout as application/octet-stream, with the byte count and a checksum it computed. */
const ECHO_C = `#include <stdio.h>
#include <stdlib.h>
int main(void) {
  size_t cap = 1 << 20, len = 0, n;
  unsigned char *buf = malloc(cap);
  while ((n = fread(buf + len, 1, cap - len, stdin)) > 0) {
    len += n;
    if (len == cap) { cap *= 2; buf = realloc(buf, cap); }
  }
  unsigned long sum = 0;
  for (size_t i = 0; i < len; i++) sum = (sum * 31 + buf[i]) % 1000000007UL;
  printf("Content-Type: application/octet-stream\\r\\nX-Received: %zu\\r\\nX-Sum: %lu\\r\\n\\r\\n", len, sum);
  fwrite(buf, 1, len, stdout);
  return 0;
}
`;

/** Every byte value, 0..255, repeated QUERY_STRING times. */
const BYTES_C = `#include <stdio.h>
#include <stdlib.h>
int main(void) {
  const char *q = getenv("QUERY_STRING");
  int times = q ? atoi(q) : 1;
  unsigned char block[256];
  for (int i = 0; i < 256; i++) block[i] = (unsigned char)i;
  fputs("Content-Type: application/octet-stream\\n\\n", stdout);
  for (int t = 0; t < times; t++) fwrite(block, 1, 256, stdout);
  return 0;
}
`;

const TEXT_SH = `#!/bin/sh
printf 'Content-Type: text/plain; charset=utf-8\\n\\n'
printf 'caf\\303\\251 \\360\\237\\230\\200 \\346\\227\\245\\346\\234\\254 na\\303\\257ve\\n'
`;

const ECHO_TEXT_SH = `#!/bin/sh
printf 'Content-Type: text/plain; charset=utf-8\\n\\n'
cat
`;

function checksum(b: Buffer): number {
  let sum = 0n;
  for (const x of b) sum = (sum * 31n + BigInt(x)) % 1000000007n;
  return Number(sum);
}

describe('binary and text bodies', () => {
  let root: string;
  let h: Harness;
  const FOUR_MB = randomBytes(prng(0x4d42), 4 * 1024 * 1024);
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  beforeAll(() => {
    root = makeTree({ 'cgi-bin/text.sh': TEXT_SH, 'cgi-bin/echo-text.sh': ECHO_TEXT_SH });
    compileC(ECHO_C, `${root}/cgi-bin/echo`);
    compileC(BYTES_C, `${root}/cgi-bin/bytes`);
    h = harness({ CGI_ROOT: `${root}/cgi-bin`, CGI_TIMEOUT_MS: '20000' });
  });
  afterAll(() => cleanup(root));

  const post = (body: Buffer) => ({ method: 'POST', path: '/cgi-bin/echo', body, headers: { 'content-type': 'application/octet-stream' } });

  it.each<[string, (b: Buffer) => Event]>([
    ['HTTP API (payload 2.0)', (b) => httpApiEvent(post(b))],
    ['REST API (payload 1.0)', (b) => restEvent(post(b))],
    ['Function URL', (b) => functionUrlEvent(post(b))],
  ])('a 4 MB binary body round-trips byte for byte: %s', async (_name, make) => {
    const event = make(FOUR_MB);
    expect(event.isBase64Encoded).toBe(true);
    const result = await h.invoke(event);
    const res = answerOf(result);
    expect(res.status).toBe(200);
    expect(result.isBase64Encoded).toBe(true);
    expect(res.headers['x-received']).toEqual([String(FOUR_MB.length)]);
    expect(res.headers['x-sum']).toEqual([String(checksum(FOUR_MB))]);
    expect(res.body.length).toBe(FOUR_MB.length);
    expect(sha(res.body)).toBe(sha(FOUR_MB));
    expect(res.body.equals(FOUR_MB)).toBe(true);
    // What the front door would receive stays under its 6 MB limit.
    expect(Buffer.byteLength(JSON.stringify(result))).toBeLessThanOrEqual(6 * 1024 * 1024);
  });

  it('ALB: a 700 KB binary body round-trips within the 1 MB limit', async () => {
    const body = randomBytes(prng(5), 700 * 1024);
    for (const multi of [false, true]) {
      const result = await h.invoke(albEvent(post(body), { multi }));
      const res = answerOf(result);
      expect(res.status).toBe(200);
      expect(result.isBase64Encoded).toBe(true);
      expect(res.body.equals(body)).toBe(true);
    }
  });

  it('a binary GET with every byte value, repeated, comes back intact', async () => {
    const times = 2048; // 512 KB: base64 fits even the 1 MB ALB limit
    const expected = Buffer.alloc(256 * times);
    for (let i = 0; i < expected.length; i++) expected[i] = i % 256;
    for (const event of [
      httpApiEvent({ path: '/cgi-bin/bytes', query: String(times) }),
      restEvent({ path: '/cgi-bin/bytes', query: String(times) }),
      albEvent({ path: '/cgi-bin/bytes', query: String(times) }, { multi: true }),
    ]) {
      const result = await h.invoke(event);
      const res = answerOf(result);
      expect(res.status).toBe(200);
      expect(result.isBase64Encoded).toBe(true);
      expect(res.body.length).toBe(expected.length);
      expect(res.body.equals(expected)).toBe(true);
    }
  });

  it('a small binary GET (one block of 256 bytes) is exact', async () => {
    const res = answerOf(await h.invoke(functionUrlEvent({ path: '/cgi-bin/bytes', query: '1' })));
    expect(res.body).toEqual(Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
  });

  it('multibyte UTF-8 text (é, emoji, CJK) stays text and exact', async () => {
    const expected = 'caf\u00e9 \u{1F600} \u65e5\u672c na\u00efve\n';
    for (const event of [
      httpApiEvent({ path: '/cgi-bin/text.sh' }),
      restEvent({ path: '/cgi-bin/text.sh' }),
      albEvent({ path: '/cgi-bin/text.sh' }, { multi: false }),
    ]) {
      const result = await h.invoke(event);
      expect(result.statusCode).toBe(200);
      expect(result.isBase64Encoded).toBe(false);
      expect(result.body).toBe(expected);
    }
  });

  it('a multibyte UTF-8 text request body reaches the script as UTF-8 and comes back as the same text', async () => {
    const text = 'na\u00efve caf\u00e9 \u{1F680}\u{1F600} \u00fcber \u4e2d\u6587\n'.repeat(100);
    for (const event of [
      httpApiEvent({ method: 'POST', path: '/cgi-bin/echo-text.sh', body: text }),
      restEvent({ method: 'POST', path: '/cgi-bin/echo-text.sh', body: text }),
      functionUrlEvent({ method: 'POST', path: '/cgi-bin/echo-text.sh', body: text }),
    ]) {
      expect(event.isBase64Encoded).toBe(false);
      const result = await h.invoke(event);
      expect(result.statusCode).toBe(200);
      expect(result.isBase64Encoded).toBe(false);
      expect(result.body).toBe(text);
    }
    // And the script saw exactly the UTF-8 bytes (CONTENT_LENGTH counts bytes, not characters).
    const res = answerOf(await h.invoke(httpApiEvent({ method: 'POST', path: '/cgi-bin/echo', body: text })));
    expect(res.headers['x-received']).toEqual([String(Buffer.byteLength(text))]);
    expect(res.body.toString('utf8')).toBe(text);
  });
});
