/**
 * Static files as Apache serves them (issue 7, items 5 and 6): media types
 * from the database, no charset added, Apache's ETag, conditional requests,
 * byte ranges, HEAD, listings, payload limits, and 304s for scripts that send
 * their own validators. Real files on disk, real scripts, the real handler,
 * in the HTTP API and REST shapes.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectEventFormat } from '../handler/events';
import type { HttpRequest } from '../handler/request';
import mime from 'mime';
import mimeOther from 'mime/types/other.js';
import mimeStandard from 'mime/types/standard.js';
import { directoryListing, mimeTypeFor, serveStatic, typeForExtension } from '../handler/static';
import { answerOf, httpApiEvent, restEvent, type Answer, type ClientRequest, type Event } from './support/events';
import { cleanup, harness, makeTree, type Harness } from './support/site';

const OLD = new Date('2020-01-01T00:00:00Z');
const OLD_HTTP = 'Wed, 01 Jan 2020 00:00:00 GMT';
const LATIN1_HTML = Buffer.from('<html><body><p>Caf\xe9 cr\xe8me \xe0 la carte</p></body></html>\n', 'latin1');
const BINARY = randomBytes(65536);
const TEXT = 'abcdefghijklmnopqrstuvwxyz0123456789\n';

/** A script that sends its own validators, with a Status line or not. */
const validatorScript = (status = '') => `#!/bin/sh
printf '${status}Content-Type: text/plain\\nLast-Modified: ${OLD_HTTP}\\nETag: "v1"\\nX-Extra: kept\\nSet-Cookie: a=1\\n\\nscript body\\n'
`;

const STATIC_FILES: Record<string, string | Buffer> = {
  'latin1.html': LATIN1_HTML,
  'page.htm': '<p>hi</p>\n',
  'blob.bin': BINARY,
  'text.txt': TEXT,
  'style.css': 'body{}\n',
  'app.js': 'var a;\n',
  'data.json': '{}\n',
  'feed.rss': '<rss/>\n',
  'image.bmp': Buffer.from('BM\x00\x00', 'latin1'),
  'sheet.xls': Buffer.from([0xd0, 0xcf, 0x11, 0xe0]),
  'letter.doc': Buffer.from([0xd0, 0xcf, 0x11, 0xe0]),
  'notes.rtf': '{\\rtf1 hi}\n',
  'sound.wav': Buffer.from('RIFF\x00\x00\x00\x00WAVE', 'latin1'),
  'tune.mid': Buffer.from('MThd', 'latin1'),
  'doc.pdf': '%PDF-1.4\n',
  'logo.svg': '<svg/>\n',
  'plain.tgz': Buffer.from([0x1f, 0x8b]),
  'page.html.bak': '<p>backup</p>\n',
  'README': 'no extension\n',
  'mystery.zzzq': 'unknown extension\n',
};

/** The database's types, checked against what Apache's mime.types and default httpd.conf say for each. */
const EXPECTED_TYPES: Record<string, string | undefined> = {
  'latin1.html': 'text/html',
  'page.htm': 'text/html',
  'blob.bin': 'application/octet-stream',
  'text.txt': 'text/plain',
  'style.css': 'text/css',
  'app.js': 'text/javascript',
  'data.json': 'application/json',
  'feed.rss': 'application/rss+xml',
  'image.bmp': 'image/bmp',
  'sheet.xls': 'application/vnd.ms-excel',
  'letter.doc': 'application/msword',
  'notes.rtf': 'application/rtf',
  'sound.wav': 'audio/wav',
  'tune.mid': 'audio/midi',
  'doc.pdf': 'application/pdf',
  'logo.svg': 'image/svg+xml',
  'plain.tgz': 'application/x-gzip',
  'archive.tar.gz': 'application/x-gzip',
  'page.html.bak': 'text/html',
  README: undefined,
  'mystery.zzzq': undefined,
};

let root: string;
let docs: string;
let cgi: string;
let bigFile: string;

beforeAll(() => {
  const files: Record<string, { content: string | Buffer; mode: number }> = {};
  for (const [name, content] of Object.entries(STATIC_FILES)) files[`htdocs/${name}`] = { content, mode: 0o644 };
  root = makeTree({
    ...files,
    'htdocs/dir/a b.txt': { content: 'x', mode: 0o644 },
    'cgi-bin/validators.sh': validatorScript(),
    'cgi-bin/status200.sh': validatorScript('Status: 200 OK\\n'),
    'cgi-bin/nph-validators.sh': `#!/bin/sh\nprintf 'HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nETag: "v1"\\r\\n\\r\\nnph body\\n'\n`,
    'cgi-bin/etag-only.pl': `#!/usr/bin/perl\nprint "Content-Type: text/html\\r\\nETag: W/\\"weak-1\\"\\r\\n\\r\\n<p>perl</p>\\n";\n`,
  });
  docs = join(root, 'htdocs');
  cgi = join(root, 'cgi-bin');
  // A real gzip'd tar, made by tar itself.
  mkdirSync(join(root, 'src'));
  writeFileSync(join(root, 'src/inside.txt'), TEXT);
  execFileSync('tar', ['czf', join(docs, 'archive.tar.gz'), '-C', join(root, 'src'), 'inside.txt']);
  bigFile = join(docs, 'big.bin');
  writeFileSync(bigFile, randomBytes(7 * 1024 * 1024));
  writeFileSync(join(docs, 'five.bin'), randomBytes(5 * 1024 * 1024));
  for (const name of [...Object.keys(STATIC_FILES), 'archive.tar.gz', 'big.bin', 'five.bin']) {
    utimesSync(join(docs, name), OLD, OLD);
  }
});
afterAll(() => cleanup(root));

function site(): Harness {
  return harness({ CGI_ROOT: cgi, CGI_DOCUMENT_ROOT: docs });
}

/** Apache's `FileETag MTime Size` of a file on disk: size and mtime in microseconds, in hex. */
function apacheETag(file: string): string {
  const st = statSync(file, { bigint: true });
  return `"${st.size.toString(16)}-${(st.mtimeNs / 1000n).toString(16)}"`;
}

function header(res: Answer, name: string): string | undefined {
  return res.headers[name]?.[0];
}

const SHAPES: Array<[string, (req: ClientRequest) => Event]> = [
  ['HTTP API', (req) => httpApiEvent(req)],
  ['REST API', (req) => restEvent(req)],
];

describe.each(SHAPES)('static files through the %s', (_shape, make) => {
  let h: Harness;
  beforeAll(() => {
    h = site();
  });
  const call = async (path: string, extra: Partial<ClientRequest> = {}) => answerOf(await h.invoke(make({ path, ...extra })));

  describe('media types', () => {
    it.each(Object.entries(EXPECTED_TYPES))('%s is %s, no charset added, bytes exact', async (name, type) => {
      const res = await call(`/${encodeURIComponent(name)}`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toEqual(type === undefined ? undefined : [type]);
      expect(res.headers['content-encoding']).toBeUndefined();
      const onDisk = readFileSync(join(docs, name));
      expect(res.body.equals(onDisk)).toBe(true);
      expect(header(res, 'content-length')).toBe(String(onDisk.length));
    });

    it('a Latin-1 page is text/html without charset=utf-8, its bytes untouched (sent base64)', async () => {
      const raw = await h.invoke(make({ path: '/latin1.html' }));
      expect(raw.isBase64Encoded).toBe(true);
      const res = answerOf(raw);
      expect(res.headers['content-type']).toEqual(['text/html']);
      expect(res.body.equals(LATIN1_HTML)).toBe(true);
      expect(res.body.toString('latin1')).toContain('Caf\xe9');
    });

    it('a binary file comes back byte for byte', async () => {
      const raw = await h.invoke(make({ path: '/blob.bin' }));
      expect(raw.isBase64Encoded).toBe(true);
      expect(answerOf(raw).body.equals(BINARY)).toBe(true);
    });

    it('the .tar.gz that tar made is one gzip file: application/x-gzip, no Content-Encoding, and it unpacks', async () => {
      const res = await call('/archive.tar.gz');
      expect(res.headers['content-type']).toEqual(['application/x-gzip']);
      expect(res.headers['content-encoding']).toBeUndefined();
      const listed = execFileSync('tar', ['tzf', '-'], { input: res.body }).toString();
      expect(listed.trim()).toBe('inside.txt');
    });
  });

  describe('validators', () => {
    it("ETag in Apache's default FileETag MTime Size shape, Last-Modified, Accept-Ranges", async () => {
      const res = await call('/text.txt');
      expect(header(res, 'etag')).toBe(apacheETag(join(docs, 'text.txt')));
      expect(header(res, 'etag')).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
      expect(header(res, 'last-modified')).toBe(OLD_HTTP);
      expect(header(res, 'accept-ranges')).toBe('bytes');
    });

    it('a file changed within the last second (or dated ahead of the clock) gets a weak ETag, as Apache gives it', async () => {
      const fresh = join(docs, 'fresh.txt');
      writeFileSync(fresh, 'new\n');
      // Ahead by a little, so a slow machine cannot let the second pass before the request.
      const soon = new Date(Date.now() + 20_000);
      utimesSync(fresh, soon, soon);
      const res = await call('/fresh.txt');
      expect(header(res, 'etag')).toBe(`W/${apacheETag(fresh)}`);
      // A weak tag cannot satisfy If-Match, which compares strongly.
      expect((await call('/fresh.txt', { headers: { 'If-Match': header(res, 'etag') as string } })).status).toBe(412);
    });

    it('the Last-Modified date of a file changed under a minute ago is too weak for If-Range or a ranged If-Modified-Since', async () => {
      const fresh = join(docs, 'fresh-range.txt');
      writeFileSync(fresh, TEXT);
      const first = await call('/fresh-range.txt');
      const lm = header(first, 'last-modified') as string;
      const ranged = await call('/fresh-range.txt', { headers: { Range: 'bytes=0-3', 'If-Range': lm } });
      expect(ranged.status).toBe(200);
      expect(ranged.body.toString()).toBe(TEXT);
      // Without a Range the same date is good enough for a 304.
      expect((await call('/fresh-range.txt', { headers: { 'If-Modified-Since': lm } })).status).toBe(304);
      expect((await call('/fresh-range.txt', { headers: { 'If-Modified-Since': lm, Range: 'bytes=0-3' } })).status).toBe(206);
    });

    it('a file dated in the future is Last-Modified now', async () => {
      const future = join(docs, 'future.txt');
      writeFileSync(future, 'later\n');
      const later = new Date(Date.now() + 86400_000);
      utimesSync(future, later, later);
      const res = await call('/future.txt');
      const lm = Date.parse(header(res, 'last-modified') as string);
      expect(lm).toBeLessThanOrEqual(Date.now());
      expect(lm).toBeGreaterThan(Date.now() - 60_000);
    });
  });

  describe('conditional requests', () => {
    const etag = () => apacheETag(join(docs, 'text.txt'));

    it('If-None-Match with the ETag (or its weak form, or in a list, or *) is 304 with no body', async () => {
      for (const inm of [etag(), `W/${etag()}`, `"other", ${etag()}`, '*']) {
        const res = await call('/text.txt', { headers: { 'If-None-Match': inm } });
        expect(res.status).toBe(304);
        expect(res.body.length).toBe(0);
        expect(header(res, 'etag')).toBe(etag());
        expect(header(res, 'last-modified')).toBe(OLD_HTTP);
        expect(header(res, 'accept-ranges')).toBe('bytes');
        expect(res.headers['content-type']).toBeUndefined();
        expect(res.headers['content-length']).toBeUndefined();
      }
    });

    it('If-None-Match with another tag is 200, and If-Modified-Since is then ignored', async () => {
      const res = await call('/text.txt', { headers: { 'If-None-Match': '"nope"', 'If-Modified-Since': OLD_HTTP } });
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe(TEXT);
    });

    it('If-Modified-Since: 304 at or after Last-Modified, 200 before it, in the future or unparseable', async () => {
      expect((await call('/text.txt', { headers: { 'If-Modified-Since': OLD_HTTP } })).status).toBe(304);
      expect((await call('/text.txt', { headers: { 'If-Modified-Since': 'Thu, 02 Jan 2020 00:00:00 GMT' } })).status).toBe(304);
      // RFC 850 and asctime dates are HTTP dates too.
      expect((await call('/text.txt', { headers: { 'If-Modified-Since': 'Wednesday, 01-Jan-20 00:00:00 GMT' } })).status).toBe(304);
      expect((await call('/text.txt', { headers: { 'If-Modified-Since': 'Wed Jan  1 00:00:00 2020' } })).status).toBe(304);
      for (const ims of ['Tue, 31 Dec 2019 23:59:59 GMT', new Date(Date.now() + 86400_000).toUTCString(), 'yesterday']) {
        const res = await call('/text.txt', { headers: { 'If-Modified-Since': ims } });
        expect(res.status).toBe(200);
        expect(res.body.toString()).toBe(TEXT);
      }
    });

    it('If-Match: 412 unless it names the ETag or is *', async () => {
      const failed = await call('/text.txt', { headers: { 'If-Match': '"nope"' } });
      expect(failed.status).toBe(412);
      expect(failed.body.toString()).toContain('Precondition Failed');
      expect((await call('/text.txt', { headers: { 'If-Match': `W/${etag()}` } })).status).toBe(412);
      expect((await call('/text.txt', { headers: { 'If-Match': etag() } })).status).toBe(200);
      expect((await call('/text.txt', { headers: { 'If-Match': '*' } })).status).toBe(200);
    });

    it('If-Unmodified-Since: 412 when the file changed after it', async () => {
      expect((await call('/text.txt', { headers: { 'If-Unmodified-Since': 'Tue, 31 Dec 2019 00:00:00 GMT' } })).status).toBe(412);
      expect((await call('/text.txt', { headers: { 'If-Unmodified-Since': OLD_HTTP } })).status).toBe(200);
    });
  });

  describe('ranges', () => {
    const size = TEXT.length;

    it('bytes=a-b, a- and -n are 206 with Content-Range', async () => {
      const cases: Array<[string, number, number]> = [
        ['bytes=0-9', 0, 9],
        ['bytes=10-', 10, size - 1],
        ['bytes=-5', size - 5, size - 1],
        ['bytes=30-1000', 30, size - 1],
        ['bytes=-1000', 0, size - 1],
      ];
      for (const [range, start, end] of cases) {
        const res = await call('/text.txt', { headers: { Range: range } });
        expect(res.status).toBe(206);
        expect(header(res, 'content-range')).toBe(`bytes ${start}-${end}/${size}`);
        expect(header(res, 'content-type')).toBe('text/plain');
        expect(header(res, 'accept-ranges')).toBe('bytes');
        expect(res.body.toString()).toBe(TEXT.slice(start, end + 1));
        expect(header(res, 'content-length')).toBe(String(end - start + 1));
      }
    });

    it('a range of a binary file is its exact bytes', async () => {
      const res = await call('/blob.bin', { headers: { Range: 'bytes=1000-1999' } });
      expect(res.status).toBe(206);
      expect(res.body.equals(BINARY.subarray(1000, 2000))).toBe(true);
    });

    it('a range wholly past the end is 416 with Content-Range: bytes */size', async () => {
      const res = await call('/text.txt', { headers: { Range: `bytes=${size}-` } });
      expect(res.status).toBe(416);
      expect(header(res, 'content-range')).toBe(`bytes */${size}`);
    });

    it('a malformed Range, another unit, or ranges adding up to more than the file: the whole file', async () => {
      for (const range of ['bytes=5-3', 'bytes=abc', 'items=0-1', 'bytes=-0', 'bytes=0-20,30-36,10-25']) {
        const res = await call('/text.txt', { headers: { Range: range } });
        expect(res.status).toBe(200);
        expect(res.body.toString()).toBe(TEXT);
      }
    });

    it('bytes=0- asks for the whole file as one range, whatever else the header lists', async () => {
      const res = await call('/text.txt', { headers: { Range: 'bytes=5-6,0-,9-9' } });
      expect(res.status).toBe(206);
      expect(header(res, 'content-range')).toBe(`bytes 0-${size - 1}/${size}`);
      expect(res.body.toString()).toBe(TEXT);
    });

    it('an empty file has no ranges: 200', async () => {
      writeFileSync(join(docs, 'empty.txt'), '');
      const res = await call('/empty.txt', { headers: { Range: 'bytes=0-10' } });
      expect(res.status).toBe(200);
      expect(header(res, 'content-length')).toBe('0');
    });

    it('overlapping and adjacent ranges merge into one, as Apache merges them', async () => {
      const res = await call('/text.txt', { headers: { Range: 'bytes=0-5,3-9,10-12' } });
      expect(res.status).toBe(206);
      expect(header(res, 'content-range')).toBe(`bytes 0-12/${size}`);
      expect(res.body.toString()).toBe(TEXT.slice(0, 13));
    });

    it('several ranges are one multipart/byteranges answer', async () => {
      const res = await call('/text.txt', { headers: { Range: 'bytes=0-1, 5-6, -3' } });
      expect(res.status).toBe(206);
      const type = header(res, 'content-type') as string;
      const boundary = /^multipart\/byteranges; boundary=(\S+)$/.exec(type)?.[1] as string;
      expect(boundary).toBeDefined();
      expect(header(res, 'content-length')).toBe(String(res.body.length));
      const parts = res.body.toString().split(`--${boundary}`);
      expect(parts[0]).toBe('\r\n');
      expect(parts[parts.length - 1]).toBe('--\r\n');
      const bodies = parts.slice(1, -1).map((p) => {
        const [head, body] = p.split('\r\n\r\n');
        return { head, body: body.replace(/\r\n$/, '') };
      });
      expect(bodies.map((b) => b.body)).toEqual(['ab', 'fg', TEXT.slice(-3).replace(/\r\n$/, '')]);
      expect(bodies[0].head).toContain('Content-Type: text/plain');
      expect(bodies[1].head).toContain(`Content-Range: bytes 5-6/${size}`);
      expect(bodies[2].head).toContain(`Content-Range: bytes ${size - 3}-${size - 1}/${size}`);
    });

    it('If-Range with the current ETag or Last-Modified gives the range; anything else the whole file', async () => {
      const etag = apacheETag(join(docs, 'text.txt'));
      const ranged = async (ifRange: string) => call('/text.txt', { headers: { Range: 'bytes=0-3', 'If-Range': ifRange } });
      for (const current of [etag, OLD_HTTP]) {
        const res = await ranged(current);
        expect(res.status).toBe(206);
        expect(res.body.toString()).toBe('abcd');
      }
      for (const stale of ['"1-2"', `W/${etag}`, 'Thu, 02 Jan 2020 00:00:00 GMT']) {
        const res = await ranged(stale);
        expect(res.status).toBe(200);
        expect(res.body.toString()).toBe(TEXT);
      }
    });
  });

  describe('methods', () => {
    it('HEAD: the headers of a GET, no body', async () => {
      const raw = await h.invoke(make({ path: '/blob.bin', method: 'HEAD' }));
      const res = answerOf(raw);
      expect(res.status).toBe(200);
      expect(raw.body).toBe('');
      expect(header(res, 'content-length')).toBe(String(BINARY.length));
      expect(header(res, 'content-type')).toBe('application/octet-stream');
      expect(header(res, 'etag')).toBe(apacheETag(join(docs, 'blob.bin')));
      // The headers of the GET it stands for, a 206 included, as Apache answers it.
      const rangedRaw = await h.invoke(make({ path: '/blob.bin', method: 'HEAD', headers: { Range: 'bytes=0-9' } }));
      const ranged = answerOf(rangedRaw);
      expect(ranged.status).toBe(206);
      expect(rangedRaw.body).toBe('');
      expect(header(ranged, 'content-range')).toBe(`bytes 0-9/${BINARY.length}`);
      expect(header(ranged, 'content-length')).toBe('10');
      const get = answerOf(await h.invoke(make({ path: '/blob.bin', headers: { Range: 'bytes=0-9,20-29' } })));
      const headMulti = answerOf(await h.invoke(make({ path: '/blob.bin', method: 'HEAD', headers: { Range: 'bytes=0-9,20-29' } })));
      expect(headMulti.status).toBe(206);
      expect(header(headMulti, 'content-length')).toBe(header(get, 'content-length'));
    });

    it('HEAD with a matching If-None-Match is 304', async () => {
      const res = await call('/text.txt', { method: 'HEAD', headers: { 'If-None-Match': apacheETag(join(docs, 'text.txt')) } });
      expect(res.status).toBe(304);
    });

    it.each(['PUT', 'DELETE', 'PATCH'])('%s is 405 with Allow', async (method) => {
      const res = await call('/text.txt', { method, body: 'a=1' });
      expect(res.status).toBe(405);
      expect(res.headers.allow).toEqual(['GET, HEAD, POST, OPTIONS']);
    });

    it('POST gets the file, as from Apache (a form whose action is a page)', async () => {
      const get = await call('/text.txt');
      const post = await call('/text.txt', { method: 'POST', body: 'a=1' });
      expect(post.status).toBe(200);
      expect(post.body.equals(get.body)).toBe(true);
    });

    it('OPTIONS is 200 with the methods in Allow and no body', async () => {
      const res = await call('/text.txt', { method: 'OPTIONS' });
      expect(res.status).toBe(200);
      expect(res.headers.allow).toEqual(['GET, HEAD, POST, OPTIONS']);
      expect(res.body.length).toBe(0);
    });
  });

  describe('payload limits', () => {
    it('a file larger than the front door carries is a 502 whose log line names the file, its size and the limit', async () => {
      h.clearLogs();
      const res = await call('/big.bin');
      expect(res.status).toBe(502);
      expect(res.body.toString()).not.toContain(docs);
      const line = h.err.find((l) => l.includes('static file'));
      expect(line).toContain(bigFile);
      expect(line).toContain(String(7 * 1024 * 1024));
      expect(line).toContain('Range');
      expect(h.out.some((l) => l.includes('"status":502'))).toBe(true);
    });

    it('a binary file that fits only before base64 is a 502 naming it too', async () => {
      h.clearLogs();
      const res = await call('/five.bin');
      expect(res.status).toBe(502);
      const line = h.err.find((l) => l.includes('static file'));
      expect(line).toContain(join(docs, 'five.bin'));
      expect(line).toContain('payload limit');
    });

    it('the large file can be fetched in parts with Range, byte for byte', async () => {
      const whole = readFileSync(bigFile);
      const part = 3 * 1024 * 1024;
      const pieces: Buffer[] = [];
      for (let start = 0; start < whole.length; start += part) {
        const res = await call('/big.bin', { headers: { Range: `bytes=${start}-${start + part - 1}` } });
        expect(res.status).toBe(206);
        expect(header(res, 'content-range')).toBe(`bytes ${start}-${Math.min(start + part, whole.length) - 1}/${whole.length}`);
        pieces.push(res.body);
      }
      expect(Buffer.concat(pieces).equals(whole)).toBe(true);
    });
  });

  describe('conditional CGI answers', () => {
    it('a script sending Last-Modified and ETag, no Status: If-None-Match and If-Modified-Since make it 304', async () => {
      const conditions: Array<Record<string, string>> = [{ 'If-None-Match': '"v1"' }, { 'If-Modified-Since': OLD_HTTP }, { 'If-None-Match': 'W/"v1"' }];
      for (const headers of conditions) {
        const res = await call('/cgi-bin/validators.sh', { headers });
        expect(res.status).toBe(304);
        expect(res.body.length).toBe(0);
        expect(header(res, 'etag')).toBe('"v1"');
        expect(header(res, 'last-modified')).toBe(OLD_HTTP);
        expect(header(res, 'x-extra')).toBe('kept');
        expect(res.headers['set-cookie']).toEqual(['a=1']);
        expect(res.headers['content-type']).toBeUndefined();
      }
    });

    it('without a matching condition the script answer is unchanged', async () => {
      const conditions: Array<Record<string, string>> = [{}, { 'If-None-Match': '"v2"' }, { 'If-Modified-Since': 'Tue, 31 Dec 2019 00:00:00 GMT' }];
      for (const headers of conditions) {
        const res = await call('/cgi-bin/validators.sh', { headers });
        expect(res.status).toBe(200);
        expect(res.body.toString()).toBe('script body\n');
      }
    });

    it('If-Match naming another tag is 412, as ap_meets_conditions answers', async () => {
      const res = await call('/cgi-bin/validators.sh', { headers: { 'If-Match': '"v2"' } });
      expect(res.status).toBe(412);
      expect((await call('/cgi-bin/validators.sh', { headers: { 'If-Match': '"v1"' } })).status).toBe(200);
    });

    it('an explicit Status: 200 is kept, as Apache keeps it (PR 38070)', async () => {
      const res = await call('/cgi-bin/status200.sh', { headers: { 'If-None-Match': '"v1"' } });
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('script body\n');
    });

    it('nph scripts and POST requests are left alone', async () => {
      const nph = await call('/cgi-bin/nph-validators.sh', { headers: { 'If-None-Match': '"v1"' } });
      expect(nph.status).toBe(200);
      expect(nph.body.toString()).toBe('nph body\n');
      const post = await call('/cgi-bin/validators.sh', { method: 'POST', body: 'x=1', headers: { 'If-None-Match': '"v1"' } });
      expect(post.status).toBe(200);
    });

    it('a Perl script with only a weak ETag: 304 for a GET or HEAD naming it', async () => {
      expect((await call('/cgi-bin/etag-only.pl', { headers: { 'If-None-Match': 'W/"weak-1"' } })).status).toBe(304);
      expect((await call('/cgi-bin/etag-only.pl', { method: 'HEAD', headers: { 'If-None-Match': '"weak-1"' } })).status).toBe(304);
      const fresh = await call('/cgi-bin/etag-only.pl');
      expect(fresh.status).toBe(200);
      expect(fresh.body.toString()).toBe('<p>perl</p>\n');
    });
  });
});

describe("serveStatic with the site policy's type and encoding", () => {
  const request = (headers: Record<string, string> = {}): HttpRequest => {
    const event = httpApiEvent({ path: '/latin1.html', headers });
    return detectEventFormat(event)!.toRequest(event);
  };

  it('sends the Content-Type and Content-Encoding it is given, on whole files, ranges and multipart parts', () => {
    const file = join(docs, 'latin1.html');
    const opts = { contentType: 'text/html; charset=ISO-8859-1', contentEncoding: 'x-gzip' };
    const whole = serveStatic(request(), file, statSync(file), opts);
    expect(whole.headers).toContainEqual(['Content-Type', 'text/html; charset=ISO-8859-1']);
    expect(whole.headers).toContainEqual(['Content-Encoding', 'x-gzip']);
    expect(whole.body.equals(LATIN1_HTML)).toBe(true);
    const part = serveStatic(request({ Range: 'bytes=0-5' }), file, statSync(file), opts);
    expect(part.status).toBe(206);
    expect(part.headers).toContainEqual(['Content-Encoding', 'x-gzip']);
    const multi = serveStatic(request({ Range: 'bytes=0-1,4-5' }), file, statSync(file), opts);
    expect(multi.headers).toContainEqual(['Content-Encoding', 'x-gzip']);
    expect(multi.body.toString('latin1')).toContain('Content-Type: text/html; charset=ISO-8859-1\r\n');
    const notModified = serveStatic(request({ 'If-None-Match': '*' }), file, statSync(file), opts);
    expect(notModified.status).toBe(304);
    expect(notModified.headers.map(([n]) => n)).not.toContain('Content-Encoding');
  });

  it('refuses before reading when the answer would exceed maxBodyBytes, and says why', () => {
    const file = join(docs, 'text.txt');
    const res = serveStatic(request(), file, statSync(file), { maxBodyBytes: 10 });
    expect(res.status).toBe(502);
    expect(res.error).toContain(file);
    expect(res.error).toContain('37 bytes');
    expect(serveStatic(request({ Range: 'bytes=0-9' }), file, statSync(file), { maxBodyBytes: 10 }).status).toBe(206);
  });
});

describe('mimeTypeFor', () => {
  it("agrees with the mime package's own lookup for every extension it knows, but for httpd.conf's AddTypes", () => {
    const overlay: Record<string, string> = { gz: 'application/x-gzip', tgz: 'application/x-gzip', z: 'application/x-compress' };
    const exts = new Set<string>();
    for (const table of [mimeStandard, mimeOther]) for (const list of Object.values(table)) for (const e of list) exts.add(e.replace(/^\*/, ''));
    expect(exts.size).toBeGreaterThan(1000);
    for (const ext of exts) expect([ext, typeForExtension(ext)]).toEqual([ext, overlay[ext] ?? mime.getType(ext)]);
  });

  it('reads every extension as mod_mime does, the last known one winning', () => {
    expect(mimeTypeFor('/x/archive.tar.gz')).toBe('application/x-gzip');
    expect(mimeTypeFor('/x/archive.tar')).toBe('application/x-tar');
    expect(mimeTypeFor('/x/old.Z')).toBe('application/x-compress');
    expect(mimeTypeFor('/x/jquery.min.js')).toBe('text/javascript');
    expect(mimeTypeFor('/x/PAGE.HTML')).toBe('text/html');
    expect(mimeTypeFor('/x.d/README')).toBeUndefined();
    expect(mimeTypeFor('/x/.htaccess')).toBeUndefined();
    expect(mimeTypeFor('/x/song.mp3')).toBe('audio/mpeg');
  });
});

describe('directoryListing', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTree({
      'a b.txt': { content: 'x', mode: 0o644 },
      '<b>&amp;.html': { content: 'x', mode: 0o644 },
      'café.txt': { content: 'x', mode: 0o644 },
      'javascript:alert(1)': { content: 'x', mode: 0o644 },
      'sub/inner.txt': { content: 'x', mode: 0o644 },
      '.htaccess': { content: 'Require all denied\n', mode: 0o644 },
      '.htpasswd': { content: 'u:x\n', mode: 0o644 },
      '.git/config': { content: 'x', mode: 0o644 },
      'notes.txt~': { content: 'x', mode: 0o644 },
    });
  });
  afterAll(() => cleanup(dir));

  /** A request as the real HTTP API normaliser makes it. */
  const request = (method = 'GET'): HttpRequest => {
    const event = httpApiEvent({ path: '/files/', method });
    return detectEventFormat(event)!.toRequest(event);
  };

  it('an Apache-like Index of page: escaped names, encoded links, dirs with a slash, Parent Directory', () => {
    const res = directoryListing(request(), dir, '/files/<x>/');
    expect(res.status).toBe(200);
    expect(res.headers).toContainEqual(['Content-Type', 'text/html;charset=UTF-8']);
    const html = res.body.toString();
    expect(html).toContain('<title>Index of /files/&lt;x&gt;</title>');
    expect(html).toContain('<h1>Index of /files/&lt;x&gt;</h1>');
    expect(html).toContain('<li><a href="../"> Parent Directory</a></li>');
    expect(html).toContain('<a href="a%20b.txt"> a b.txt</a>');
    expect(html).toContain('<a href="%3Cb%3E&amp;amp;.html"> &lt;b&gt;&amp;amp;.html</a>');
    expect(html).toContain('<a href="caf%C3%A9.txt"> café.txt</a>');
    expect(html).toContain('<a href="javascript%3Aalert(1)"> javascript:alert(1)</a>');
    expect(html).toContain('<a href="sub/"> sub/</a>');
    expect(html).not.toMatch(/htaccess|htpasswd|\.git|notes\.txt~/);
    const names = [...html.matchAll(/<li><a href="[^"]*"> ([^<]*)<\/a>/g)].map((m) => m[1]);
    expect(names).toEqual(['Parent Directory', '&lt;b&gt;&amp;amp;.html', 'a b.txt', 'café.txt', 'javascript:alert(1)', 'sub/']);
  });

  it('no Parent Directory at the root; 405 for other methods; 403 for a directory that cannot be read', () => {
    const top = directoryListing(request(), dir, '/').body.toString();
    expect(top).not.toContain('Parent Directory');
    expect(top).toContain('<title>Index of /</title>');
    const put = directoryListing(request('PUT'), dir, '/');
    expect(put.status).toBe(405);
    expect(directoryListing(request(), join(dir, 'missing'), '/missing/').status).toBe(403);
  });
});
