/**
 * Reading a script's response (RFC 3875 §6, Apache mod_cgi behaviour): headers,
 * Status, Location (client and local redirects), nph- scripts, the lenient and
 * the strict parts of header parsing, binary vs text bodies and every failure.
 *
 * Most responses come from real fixture files printed byte for byte by a Perl
 * script (emit.pl, PATH_INFO names the fixture), so the exact bytes are under test.
 */
import { readFileSync } from 'node:fs';
import { parseCgiResponse } from '../handler/cgi-response';
import { albEvent, answerOf, functionUrlEvent, httpApiEvent, restEvent, type Answer } from './support/events';
import { expectErrorPage, jsonLines } from './support/processes';
import { cleanup, harness, makeTree, type Harness } from './support/site';

const EMIT_PL = `#!/usr/bin/perl
use strict;
my $name = $ENV{PATH_INFO};
$name =~ s{^/}{};
open(my $f, '<:raw', "../fixtures/$name") or die "no fixture $name";
binmode STDOUT;
local $/;
print <$f>;
`;

const TARGET_SH = `#!/bin/sh
body=$(cat)
printf 'Content-Type: text/plain\\r\\nX-From: target\\r\\n\\r\\n'
printf 'method=%s\\nquery=%s\\nlength=%s\\nbody=%s\\nredirect_url=%s\\nscript=%s\\npath_info=%s\\n' \\
  "$REQUEST_METHOD" "$QUERY_STRING" "\${CONTENT_LENGTH-unset}" "$body" "\${REDIRECT_URL-unset}" "$SCRIPT_NAME" "\${PATH_INFO-unset}"
`;

const LOOP_SH = `#!/bin/sh
echo x >> ../loop.count
printf 'Location: /cgi-bin/loop.sh\\n\\n'
`;

const big = (n: number) => 'a'.repeat(n);

const FIXTURES: Record<string, string | Buffer> = {
  lf: 'Content-Type: text/plain\nX-One: 1\n\nline1\n\nline3\n',
  crlf: 'Content-Type: text/plain\r\nX-One: 1\r\n\r\nline1\r\n\r\nline3\r\n',
  mixed: 'Content-Type: text/plain\r\nX-One: 1\n\r\nbody\n\nmore',
  'status-gone': 'Status: 404 Gone Fishing\nContent-Type: text/plain\n\nnot here\n',
  'status-lower': 'status: 201\ncontent-type: text/plain\n\ncreated\n',
  'status-upper': 'STATUS: 418 Short And Stout\nContent-Type: text/plain\n\nteapot\n',
  'status-abc': 'Status: abc\nContent-Type: text/plain\n\nSECRET-BODY\n',
  'status-99': 'Status: 99 Low\nContent-Type: text/plain\n\nx\n',
  'status-600': 'Status: 600 High\nContent-Type: text/plain\n\nx\n',
  'status-2000': 'Status: 2000\nContent-Type: text/plain\n\nx\n',
  'status-empty': 'Status:\nContent-Type: text/plain\n\nx\n',
  'loc-abs': 'Location: https://example.com/next?a=1\n\n',
  'loc-abs-301': 'Status: 301 Moved Permanently\nLocation: https://example.com/moved\n\n',
  'loc-abs-303': 'Location: https://example.com/see\nStatus: 303\n\n',
  'loc-local': 'Location: /cgi-bin/target.sh?a=1&b=two\nSet-Cookie: first=dropped\n\nSHOULD-NOT-BE-SENT',
  'loc-local-status200': 'Status: 200 OK\nLocation: /cgi-bin/target.sh/extra\n\n',
  'loc-local-301': 'Status: 301\nLocation: /cgi-bin/target.sh\n\n',
  'loc-protocol-relative': 'Location: //evil.example/x\n\n',
  'loc-stage': 'Location: /prod/cgi-bin/target.sh?from=stage\n\n',
  'loc-emoji': 'Location: /cgi-bin/target.sh/\u{1F600}?q=1\n\n',
  'loc-missing': 'Location: /cgi-bin/does-not-exist.sh\n\n',
  'no-type': 'X-Foo: bar\n\nSECRET-BODY\n',
  'no-type-status': 'Status: 204 No Content\n\n',
  cookies: 'Content-Type: text/plain\nSet-Cookie: a=1; Path=/\nSet-Cookie: b=2; HttpOnly\nset-cookie: c=3\n\ncookies\n',
  fold: 'Content-Type: text/plain\r\nX-Fold: part1\r\n   part2\r\n\tpart3\r\nX-After: yes\r\n\r\nfolded',
  'bad-names': 'Content-Type: text/plain\nX Bad: 1\n(x): 2\nNoColonHere\n: empty\nX-Good: 3\n\nok',
  'bare-cr': 'Content-Type: text/plain\nX-A: 1\rSet-Cookie: evil=1\nX-B: 2\n\nok',
  'ctl-values': 'Content-Type: text/plain\nX-Ctl: a\x01b\nX-Del: a\x7fb\nX-Nul: a\x00b\nX-Tab: a\tb\n\nok',
  'huge-headers': `Content-Type: text/plain\nX-Big: ${big(70 * 1024)}\n\nbody`,
  'many-headers': `Content-Type: text/plain\n${Array.from({ length: 3000 }, (_, i) => `X-H${i}: ${big(20)}`).join('\n')}\n\nbody`,
  'near-limit-headers': `Content-Type: text/plain\nX-Big: ${big(60 * 1024)}\n\nbody`,
  'hop-by-hop':
    'Content-Type: text/plain\nTransfer-Encoding: chunked\nConnection: close\nKeep-Alive: timeout=5\nUpgrade: h2c\n' +
    'TE: trailers\nTrailer: X-T\nProxy-Connection: keep-alive\nX-Keep: kept\n\nhello',
  'cl-wrong': 'Content-Type: text/plain\nContent-Length: 99\n\nhello',
  'cl-right': 'Content-Type: text/plain\nContent-Length: 5\n\nhello',
  'png-ascii': 'Content-Type: image/png\n\nhello',
  png: Buffer.concat([Buffer.from('Content-Type: image/png\r\n\r\n'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe])]),
  'latin1-label-utf8': Buffer.from('Content-Type: text/html; charset=ISO-8859-1\n\n<p>caf\u00e9 \u00fcber</p>', 'utf8'),
  'latin1-bytes': Buffer.concat([Buffer.from('Content-Type: text/html; charset=ISO-8859-1\n\n<p>caf'), Buffer.from([0xe9]), Buffer.from('</p>')]),
  gzip: Buffer.concat([Buffer.from('Content-Type: text/plain\nContent-Encoding: gzip\n\n'), Buffer.from('plain ascii pretending')]),
  json: 'Content-Type: application/json\n\n{"a":"\u00e9"}',
  'octet-ascii': 'Content-Type: application/octet-stream\n\nascii',
  'no-blank': 'Content-Type: text/plain\nSECRET-NO-BLANK',
  empty: '',
  'headers-only': 'Content-Type: text/plain\n\n',
};

const SCRIPTS: Record<string, string> = {
  'cgi-bin/nph-x.sh': `#!/bin/sh
printf 'HTTP/1.1 202 Accepted\\r\\nContent-Type: text/plain\\r\\nX-Nph: yes\\r\\nConnection: close\\r\\n\\r\\nnph body'
`,
  'cgi-bin/nph-bad.sh': `#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\nnot a status line'
`,
  'cgi-bin/nph-junk.sh': `#!/bin/sh
printf 'HTTP/1.1 abc Nope\\r\\nContent-Type: text/plain\\r\\n\\r\\nx'
`,
  'cgi-bin/silent.sh': '#!/bin/sh\nexit 0\n',
  'cgi-bin/sigkill.sh': `#!/bin/sh
echo "about to die: SECRET-STDERR" >&2
printf 'Content-Type: text/plain\\n'
kill -9 $$
`,
  'cgi-bin/exit1.sh': `#!/bin/sh
echo "fatal: could not open /tmp/secret-path" >&2
exit 1
`,
  'cgi-bin/exit3-after.sh': `#!/bin/sh
printf 'Content-Type: text/plain\\n\\nkept body\\n'
echo "late trouble" >&2
exit 3
`,
  'cgi-bin/leaky.sh': `#!/bin/sh
echo "SECRET-STDERR at /tmp/x.pl line 3" >&2
printf 'SECRET-STDOUT /tmp/lambda-cgi-secret\\nstill no blank line'
exit 2
`,
  'cgi-bin/head.sh': `#!/bin/sh
printf 'Content-Type: text/plain\\nContent-Length: 11\\nX-Method: %s\\n\\nhello world' "$REQUEST_METHOD"
`,
  'cgi-bin/head-png.sh': `#!/bin/sh
printf 'Content-Type: image/png\\n\\n\\211PNG'
`,
};

describe('CGI response parsing (real scripts)', () => {
  let root: string;
  let h: Harness;

  beforeAll(() => {
    const files: Record<string, string | Buffer> = {
      'cgi-bin/emit.pl': EMIT_PL,
      'cgi-bin/target.sh': TARGET_SH,
      'cgi-bin/loop.sh': LOOP_SH,
      ...SCRIPTS,
    };
    for (const [name, content] of Object.entries(FIXTURES)) files[`fixtures/${name}`] = content;
    root = makeTree(files);
    h = harness({ CGI_ROOT: `${root}/cgi-bin`, CGI_TIMEOUT_MS: '10000' });
  });
  afterAll(() => cleanup(root));
  beforeEach(() => h.clearLogs());

  const get = async (path: string, id = 'req-resp', query?: string): Promise<Answer> =>
    answerOf(await h.invoke(httpApiEvent({ path, query }), { awsRequestId: id }));
  const emit = (name: string, id?: string) => get(`/cgi-bin/emit.pl/${name}`, id);
  const errors = () => jsonLines(h.err).filter((l) => l.level === 'error');
  const warnings = () => jsonLines(h.err).filter((l) => l.level === 'warn');

  describe('header block', () => {
    it.each(['lf', 'crlf'])('ends at the first empty line (%s)', async (name) => {
      const res = await emit(name);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toEqual(['text/plain']);
      expect(res.headers['x-one']).toEqual(['1']);
      const eol = name === 'lf' ? '\n' : '\r\n';
      expect(res.body.toString()).toBe(`line1${eol}${eol}line3${eol}`);
    });

    it('accepts mixed LF and CRLF line ends', async () => {
      const res = await emit('mixed');
      expect(res.status).toBe(200);
      expect(res.headers['x-one']).toEqual(['1']);
      expect(res.body.toString()).toBe('body\n\nmore');
    });

    it('answers an empty body for a response with headers only', async () => {
      const res = await emit('headers-only');
      expect(res.status).toBe(200);
      expect(res.body.length).toBe(0);
    });

    it('joins obs-fold continuation lines', async () => {
      const res = await emit('fold');
      expect(res.status).toBe(200);
      expect(res.headers['x-fold']).toEqual(['part1 part2 part3']);
      expect(res.headers['x-after']).toEqual(['yes']);
      expect(res.body.toString()).toBe('folded');
    });

    it('drops and logs header lines with an invalid name', async () => {
      const res = await emit('bad-names', 'req-badnames');
      expect(res.status).toBe(200);
      expect(res.headers['x-good']).toEqual(['3']);
      expect(Object.keys(res.headers).sort()).toEqual(['content-type', 'x-good']);
      const dropped = warnings().filter((w) => /dropped/.test(w.message));
      expect(dropped).toHaveLength(4);
      for (const w of dropped) expect(w.requestId).toBe('req-badnames');
      expect(dropped.map((w) => w.message).join('\n')).toContain('X Bad: 1');
      expect(dropped.map((w) => w.message).join('\n')).toContain('(x): 2');
    });

    it('drops a header line holding a bare CR: no header injection', async () => {
      const res = await emit('bare-cr', 'req-cr');
      expect(res.status).toBe(200);
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(res.raw.cookies).toBeUndefined();
      expect(res.headers['x-a']).toBeUndefined();
      expect(res.headers['x-b']).toEqual(['2']);
      const w = warnings();
      expect(w).toHaveLength(1);
      expect(w[0].message).toMatch(/bare CR/);
      expect(w[0].requestId).toBe('req-cr');
    });

    it('drops header values holding control characters, keeps tabs', async () => {
      const res = await emit('ctl-values');
      expect(res.status).toBe(200);
      expect(res.headers['x-ctl']).toBeUndefined();
      expect(res.headers['x-del']).toBeUndefined();
      expect(res.headers['x-nul']).toBeUndefined();
      expect(res.headers['x-tab']).toEqual(['a\tb']);
      expect(warnings().filter((w) => /control character/.test(w.message))).toHaveLength(3);
    });

    it('fails a header block over 64 KiB with 500', async () => {
      const res = await emit('huge-headers', 'req-huge');
      expectErrorPage(res, 500, ['aaaaaaaaaa']);
      expect(errors()).toHaveLength(1);
      expect(errors()[0].message).toMatch(/headers exceed 65536 bytes/);
    });

    it('fails many small headers adding up to more than 64 KiB with 500', async () => {
      const res = await emit('many-headers');
      expectErrorPage(res, 500);
      expect(errors()[0].message).toMatch(/headers exceed/);
    });

    it('accepts a header block just under the limit', async () => {
      const res = await emit('near-limit-headers');
      expect(res.status).toBe(200);
      expect(res.headers['x-big']).toEqual([big(60 * 1024)]);
      expect(res.body.toString()).toBe('body');
    });

    it('does not forward hop-by-hop headers', async () => {
      for (const event of [
        httpApiEvent({ path: '/cgi-bin/emit.pl/hop-by-hop' }),
        restEvent({ path: '/cgi-bin/emit.pl/hop-by-hop' }),
        albEvent({ path: '/cgi-bin/emit.pl/hop-by-hop' }, { multi: true }),
      ]) {
        const res = answerOf(await h.invoke(event));
        expect(res.status).toBe(200);
        expect(Object.keys(res.headers).sort()).toEqual(['content-type', 'x-keep']);
        expect(res.body.toString()).toBe('hello');
      }
    });

    it('corrects and logs a wrong Content-Length', async () => {
      const res = await emit('cl-wrong', 'req-cl');
      expect(res.status).toBe(200);
      expect(res.headers['content-length']).toEqual(['5']);
      expect(res.body.toString()).toBe('hello');
      const w = warnings();
      expect(w).toHaveLength(1);
      expect(w[0].message).toMatch(/Content-Length 99 .* 5 bytes/);
      expect(w[0].requestId).toBe('req-cl');
    });

    it('keeps a right Content-Length without a warning', async () => {
      const res = await emit('cl-right');
      expect(res.headers['content-length']).toEqual(['5']);
      expect(h.err).toEqual([]);
    });
  });

  describe('Status', () => {
    it('sets code and reason phrase ("Status: 404 Gone Fishing")', async () => {
      const res = answerOf(await h.invoke(albEvent({ path: '/cgi-bin/emit.pl/status-gone' }, { multi: false })));
      expect(res.status).toBe(404);
      expect(res.raw.statusDescription).toBe('404 Gone Fishing');
      expect(res.headers.status).toBeUndefined();
      expect(res.body.toString()).toBe('not here\n');
    });

    it('is recognised in any case, with the standard reason when none is given', async () => {
      const lower = answerOf(await h.invoke(albEvent({ path: '/cgi-bin/emit.pl/status-lower' }, { multi: true })));
      expect(lower.status).toBe(201);
      expect(lower.raw.statusDescription).toBe('201 Created');
      expect(lower.raw.multiValueHeaders.status).toBeUndefined();
      const upper = answerOf(await h.invoke(albEvent({ path: '/cgi-bin/emit.pl/status-upper' }, { multi: true })));
      expect(upper.status).toBe(418);
      expect(upper.raw.statusDescription).toBe('418 Short And Stout');
    });

    it.each(['status-abc', 'status-99', 'status-600', 'status-2000', 'status-empty'])('invalid %s gives 500', async (name) => {
      const res = await emit(name, 'req-badstatus');
      expectErrorPage(res, 500, ['SECRET-BODY']);
      expect(errors()).toHaveLength(1);
      expect(errors()[0].message).toMatch(/invalid Status/);
      expect(errors()[0].requestId).toBe('req-badstatus');
    });
  });

  describe('Location', () => {
    it('an absolute URL without Status is a 302', async () => {
      const res = await emit('loc-abs');
      expect(res.status).toBe(302);
      expect(res.headers.location).toEqual(['https://example.com/next?a=1']);
    });

    it('an absolute URL keeps the Status the script gave (301, 303)', async () => {
      const a = await emit('loc-abs-301');
      expect(a.status).toBe(301);
      expect(a.headers.location).toEqual(['https://example.com/moved']);
      const b = await emit('loc-abs-303');
      expect(b.status).toBe(303);
      expect(b.headers.location).toEqual(['https://example.com/see']);
    });

    it('a path is a local redirect: an internal GET with the query, no body, the target answers', async () => {
      const ev = httpApiEvent({ method: 'POST', path: '/cgi-bin/emit.pl/loc-local', query: 'orig=1', body: 'posted-data', headers: { 'content-type': 'text/plain' } });
      const res = answerOf(await h.invoke(ev, { awsRequestId: 'req-local' }));
      expect(res.status).toBe(200);
      expect(res.headers['x-from']).toEqual(['target']);
      expect(res.headers.location).toBeUndefined();
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(res.body.toString()).toBe(
        'method=GET\nquery=a=1&b=two\nlength=unset\nbody=\nredirect_url=/cgi-bin/emit.pl/loc-local\n' +
          'script=/cgi-bin/target.sh\npath_info=unset\n',
      );
      expect(res.body.toString()).not.toContain('SHOULD-NOT-BE-SENT');
      const access = jsonLines(h.out);
      expect(access).toHaveLength(1);
      expect(access[0].script).toBe('/cgi-bin/target.sh');
    });

    it('Status 200 with a path is still a local redirect', async () => {
      const res = await emit('loc-local-status200');
      expect(res.status).toBe(200);
      expect(res.body.toString()).toContain('path_info=/extra\n');
    });

    it('Status 301 with a path goes to the client as it is', async () => {
      const res = await emit('loc-local-301');
      expect(res.status).toBe(301);
      expect(res.headers.location).toEqual(['/cgi-bin/target.sh']);
    });

    it('a local redirect to a missing script answers 404', async () => {
      const res = await emit('loc-missing');
      expectErrorPage(res, 404);
    });

    it('//host is a client redirect, not a local one', async () => {
      const res = await emit('loc-protocol-relative');
      expect(res.status).toBe(302);
      expect(res.headers.location).toEqual(['//evil.example/x']);
      expect(res.headers['x-from']).toBeUndefined();
    });

    it('a Location holding the REST stage prefix resolves to the script', async () => {
      const res = answerOf(await h.invoke(restEvent({ path: '/cgi-bin/emit.pl/loc-stage' }, { stage: 'prod' })));
      expect(res.status).toBe(200);
      expect(res.body.toString()).toContain('query=from=stage\n');
      expect(res.body.toString()).toContain('script=/prod/cgi-bin/target.sh\n');
    });

    it('a Location path with non-ASCII characters (emoji) is followed', async () => {
      const res = await emit('loc-emoji', 'req-emoji');
      expect(res.status).toBe(200);
      expect(res.body.toString()).toContain('path_info=/\u{1F600}\n');
      expect(res.body.toString()).toContain('query=q=1\n');
    });

    it('a local redirect loop is bounded: 500 and an error log line', async () => {
      const res = await get('/cgi-bin/loop.sh', 'req-loop');
      expectErrorPage(res, 500);
      const e = errors();
      expect(e).toHaveLength(1);
      expect(e[0].message).toMatch(/local redirects/);
      expect(e[0].requestId).toBe('req-loop');
      // Apache's LimitInternalRecursion 10: the first run and 10 redirects.
      expect(readFileSync(`${root}/loop.count`, 'utf8')).toBe('x\n'.repeat(11));
    });
  });

  describe('required headers and repeated headers', () => {
    it('no Content-Type, Status or Location: 500 and logged', async () => {
      const res = await emit('no-type', 'req-notype');
      expectErrorPage(res, 500, ['SECRET-BODY']);
      expect(errors()[0].message).toMatch(/no Content-Type/);
      expect(errors()[0].requestId).toBe('req-notype');
    });

    it('Status without Content-Type is fine', async () => {
      const res = await emit('no-type-status');
      expect(res.status).toBe(204);
      expect(res.body.length).toBe(0);
    });

    it('every Set-Cookie survives: REST multiValueHeaders', async () => {
      const res = answerOf(await h.invoke(restEvent({ path: '/cgi-bin/emit.pl/cookies' })));
      expect(res.status).toBe(200);
      expect(res.raw.multiValueHeaders['Set-Cookie']).toEqual(['a=1; Path=/', 'b=2; HttpOnly', 'c=3']);
      expect(res.raw.headers).toBeUndefined();
    });

    it('every Set-Cookie survives: payload 2.0 cookies[]', async () => {
      for (const ev of [httpApiEvent({ path: '/cgi-bin/emit.pl/cookies' }), functionUrlEvent({ path: '/cgi-bin/emit.pl/cookies' })]) {
        const res = answerOf(await h.invoke(ev));
        expect(res.raw.cookies).toEqual(['a=1; Path=/', 'b=2; HttpOnly', 'c=3']);
        expect(Object.keys(res.raw.headers).map((k) => k.toLowerCase())).not.toContain('set-cookie');
      }
    });

    it('every Set-Cookie survives: ALB with multi-value headers', async () => {
      const res = answerOf(await h.invoke(albEvent({ path: '/cgi-bin/emit.pl/cookies' }, { multi: true })));
      expect(res.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; HttpOnly', 'c=3']);
    });
  });

  describe('nph- scripts', () => {
    it('parses their own status line and headers', async () => {
      const res = answerOf(await h.invoke(albEvent({ path: '/cgi-bin/nph-x.sh' }, { multi: true })));
      expect(res.status).toBe(202);
      expect(res.raw.statusDescription).toBe('202 Accepted');
      expect(res.headers['x-nph']).toEqual(['yes']);
      expect(res.headers['content-type']).toEqual(['text/plain']);
      expect(res.headers.connection).toBeUndefined();
      expect(res.body.toString()).toBe('nph body');
    });

    it.each(['nph-bad.sh', 'nph-junk.sh'])('an invalid status line (%s) is a 500', async (name) => {
      const res = await get(`/cgi-bin/${name}`, 'req-nph');
      expectErrorPage(res, 500, ['not a status line']);
      expect(errors()[0].message).toMatch(/status line/);
    });
  });

  describe('HEAD', () => {
    it('carries no body but keeps the headers', async () => {
      for (const ev of [
        restEvent({ method: 'HEAD', path: '/cgi-bin/head.sh' }),
        httpApiEvent({ method: 'HEAD', path: '/cgi-bin/head.sh' }),
        albEvent({ method: 'HEAD', path: '/cgi-bin/head.sh' }, { multi: false }),
      ]) {
        const res = answerOf(await h.invoke(ev));
        expect(res.status).toBe(200);
        expect(res.raw.body).toBe('');
        expect(res.raw.isBase64Encoded).toBe(false);
        expect(res.headers['content-type']).toEqual(['text/plain']);
        expect(res.headers['content-length']).toEqual(['11']);
        expect(res.headers['x-method']).toEqual(['HEAD']);
      }
    });

    it('carries no body for a binary type either', async () => {
      const res = answerOf(await h.invoke(httpApiEvent({ method: 'HEAD', path: '/cgi-bin/head-png.sh' })));
      expect(res.status).toBe(200);
      expect(res.raw.body).toBe('');
      expect(res.headers['content-type']).toEqual(['image/png']);
    });
  });

  describe('binary or text', () => {
    it('image/png goes back base64, even when the bytes are ASCII', async () => {
      const res = await emit('png');
      expect(res.raw.isBase64Encoded).toBe(true);
      expect(res.body).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe]));
      const ascii = await emit('png-ascii');
      expect(ascii.raw.isBase64Encoded).toBe(true);
      expect(ascii.raw.body).toBe(Buffer.from('hello').toString('base64'));
    });

    it('text/html that is valid UTF-8 stays text whatever its charset label says', async () => {
      const res = await emit('latin1-label-utf8');
      expect(res.raw.isBase64Encoded).toBe(false);
      expect(res.raw.body).toBe('<p>caf\u00e9 \u00fcber</p>');
      expect(res.headers['content-type']).toEqual(['text/html; charset=ISO-8859-1']);
    });

    it('text/html with bytes that are not UTF-8 (Latin-1 é) goes back base64, bytes intact', async () => {
      const res = await emit('latin1-bytes');
      expect(res.raw.isBase64Encoded).toBe(true);
      expect(res.body).toEqual(Buffer.concat([Buffer.from('<p>caf'), Buffer.from([0xe9]), Buffer.from('</p>')]));
    });

    it('a Content-Encoding (gzip) body goes back base64', async () => {
      const res = await emit('gzip');
      expect(res.raw.isBase64Encoded).toBe(true);
      expect(res.body.toString()).toBe('plain ascii pretending');
      expect(res.headers['content-encoding']).toEqual(['gzip']);
    });

    it('application/json stays text; application/octet-stream is base64', async () => {
      const json = await emit('json');
      expect(json.raw.isBase64Encoded).toBe(false);
      expect(json.raw.body).toBe('{"a":"\u00e9"}');
      const octet = await emit('octet-ascii');
      expect(octet.raw.isBase64Encoded).toBe(true);
      expect(octet.body.toString()).toBe('ascii');
    });
  });

  describe('failures', () => {
    it('no output at all: 500, reason logged', async () => {
      const res = await get('/cgi-bin/silent.sh', 'req-silent');
      expectErrorPage(res, 500);
      expect(errors()).toHaveLength(1);
      expect(errors()[0].message).toMatch(/no output/);
      expect(errors()[0].script).toBe('/cgi-bin/silent.sh');
    });

    it('an empty fixture through Perl: 500', async () => {
      expectErrorPage(await emit('empty'), 500);
    });

    it('output without the blank line: 500, output not shown', async () => {
      const res = await emit('no-blank', 'req-noblank');
      expectErrorPage(res, 500, ['SECRET-NO-BLANK']);
      expect(errors()[0].message).toMatch(/no blank line/);
    });

    it('a crash (kill -9) before the headers are complete: 500, signal and stderr tail logged', async () => {
      const res = await get('/cgi-bin/sigkill.sh', 'req-kill');
      expectErrorPage(res, 500, ['SECRET-STDERR', 'about to die']);
      const e = errors();
      expect(e).toHaveLength(1);
      expect(e[0].requestId).toBe('req-kill');
      expect(e[0].message).toMatch(/no blank line/);
      expect(e[0].signal).toBe('SIGKILL');
      expect(e[0].stderrTail).toEqual(['about to die: SECRET-STDERR']);
    });

    it('exit 1 with nothing printed: 500, exit code and stderr tail logged', async () => {
      const res = await get('/cgi-bin/exit1.sh', 'req-exit1');
      expectErrorPage(res, 500, ['secret-path', 'fatal']);
      const e = errors();
      expect(e).toHaveLength(1);
      expect(e[0].message).toMatch(/no output/);
      expect(e[0].exitCode).toBe(1);
      expect(e[0].stderrTail).toEqual(['fatal: could not open /tmp/secret-path']);
    });

    it('a non-zero exit after complete headers keeps the response and logs a warning', async () => {
      const res = await get('/cgi-bin/exit3-after.sh', 'req-exit3');
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('kept body\n');
      const w = warnings();
      expect(w).toHaveLength(1);
      expect(w[0].message).toMatch(/exited abnormally/);
      expect(w[0].exitCode).toBe(3);
      expect(w[0].requestId).toBe('req-exit3');
      expect(errors()).toEqual([]);
    });

    it('error pages never show paths, stack traces or script output', async () => {
      for (const ev of [
        httpApiEvent({ path: '/cgi-bin/leaky.sh' }),
        restEvent({ path: '/cgi-bin/leaky.sh' }),
        albEvent({ path: '/cgi-bin/leaky.sh' }, { multi: false }),
      ]) {
        const res = answerOf(await h.invoke(ev));
        expectErrorPage(res, 500, ['SECRET-STDOUT', 'SECRET-STDERR', 'still no blank line', root]);
        expect(res.body.toString()).toContain('<h1>Internal Server Error</h1>');
      }
    });
  });
});

describe('parseCgiResponse (unit)', () => {
  const parse = (s: string | Buffer, nph = false, head = false) =>
    parseCgiResponse(Buffer.isBuffer(s) ? s : Buffer.from(s, 'latin1'), { nph, head });

  it('splits headers and body at the first empty line, body bytes untouched', () => {
    const r = parse('Content-Type: text/plain\r\nX-A:  spaced  \r\n\r\n\r\nbody\r\n');
    expect(r.ok).toBe(true);
    if (!r.ok || r.response.kind !== 'document') throw new Error('expected a document');
    expect(r.response.status).toBe(200);
    expect(r.response.reason).toBe('OK');
    expect(r.response.headers).toEqual([['Content-Type', 'text/plain'], ['X-A', 'spaced']]);
    expect(r.response.body.toString('latin1')).toBe('\r\nbody\r\n');
    expect(r.warnings).toEqual([]);
  });

  it('Status with a reason, and the standard reason without one', () => {
    const a = parse('Status: 404 Gone Fishing\nContent-Type: text/plain\n\n');
    const b = parse('Status: 503\n\n');
    if (!a.ok || a.response.kind !== 'document' || !b.ok || b.response.kind !== 'document') throw new Error('expected documents');
    expect([a.response.status, a.response.reason]).toEqual([404, 'Gone Fishing']);
    expect([b.response.status, b.response.reason]).toEqual([503, 'Service Unavailable']);
    expect(a.response.headers).toEqual([['Content-Type', 'text/plain']]);
  });

  it('local redirect vs client redirect', () => {
    const local = parse('Location: /x?y=1\n\n');
    expect(local).toEqual({ ok: true, response: { kind: 'local-redirect', location: '/x?y=1' }, warnings: [] });
    const client = parse('Location: //evil.example/\n\n');
    if (!client.ok || client.response.kind !== 'document') throw new Error('expected a document');
    expect(client.response.status).toBe(302);
  });

  it('nph: status line, headers, no Content-Type needed', () => {
    const r = parse('HTTP/1.0 206 Partial Content\r\nX-A: 1\r\n\r\nabc', true);
    if (!r.ok || r.response.kind !== 'document') throw new Error('expected a document');
    expect([r.response.status, r.response.reason]).toEqual([206, 'Partial Content']);
    expect(r.response.headers).toEqual([['X-A', '1']]);
    expect(r.response.body.toString()).toBe('abc');
    expect(parse('HTTP/1.1 2xx\r\n\r\n', true).ok).toBe(false);
  });

  it('failures name their reason', () => {
    expect(parse('')).toEqual({ ok: false, error: 'script produced no output', warnings: [] });
    expect(parse('Content-Type: text/plain')).toMatchObject({ ok: false, error: expect.stringMatching(/no blank line/) });
    expect(parse(`X: ${'a'.repeat(70000)}`)).toMatchObject({ ok: false, error: expect.stringMatching(/exceed/) });
    expect(parse('X-Foo: 1\n\n')).toMatchObject({ ok: false, error: expect.stringMatching(/no Content-Type/) });
  });

  it('HEAD keeps a Content-Length for a body the script rightly left out', () => {
    const r = parse('Content-Type: text/plain\nContent-Length: 42\n\n', false, true);
    if (!r.ok || r.response.kind !== 'document') throw new Error('expected a document');
    expect(r.response.headers).toEqual([['Content-Type', 'text/plain'], ['Content-Length', '42']]);
    expect(r.warnings).toEqual([]);
  });
});
