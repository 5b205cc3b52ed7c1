/**
 * Local answers match AWS: the same requests over real HTTP through
 * `serverless offline start` (HTTP API and REST) give scripts what API Gateway
 * would give them. See test/events.test.ts for the event-level side of each rule.
 */
import { cleanup, makeTree } from '../support/site';
import { startOffline, type Offline } from '../support/offline';

const ENV_SH = `#!/bin/sh
printf 'Content-Type: text/plain; charset=utf-8\\n\\n'
printf 'PATH_INFO=%s\\nQUERY_STRING=%s\\nREQUEST_URI=%s\\nARGC=%s\\nARGS=%s\\nLANG=%s\\nLC_ALL=%s\\n' \\
  "$PATH_INFO" "$QUERY_STRING" "$REQUEST_URI" "$#" "$*" "$LANG" "$LC_ALL"
`;
const LOCALE_PL = `#!/usr/bin/perl
use POSIX qw(setlocale LC_ALL);
print "Content-Type: text/plain\\n\\nlocale=", setlocale(LC_ALL), "\\n";
`;

function parse(text: string): Record<string, string> {
  return Object.fromEntries(text.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

let root: string;
beforeAll(() => {
  root = makeTree({
    'cgi-bin/hello.sh': ENV_SH,
    'cgi-bin/locale.pl': LOCALE_PL,
    'htdocs/café.html': { content: 'café page\n', mode: 0o644 },
    'htdocs/my file.html': { content: 'spaced page\n', mode: 0o644 },
  });
});
afterAll(() => cleanup(root));

describe.each(['http', 'rest'] as const)('serverless-offline (%s) answers as AWS does', (api) => {
  let server: Offline;
  beforeAll(async () => {
    // Lambda's own LANG, which its image lacks: what a deployed function runs with.
    server = await startOffline({ api, env: { CGI_ROOT: `${root}/cgi-bin`, CGI_DOCUMENT_ROOT: `${root}/htdocs`, LANG: 'en_US.UTF-8' } });
  }, 120_000);
  afterAll(() => server?.stop(), 30_000);

  const get = async (path: string) => {
    const res = await fetch(server.base + path);
    return { status: res.status, text: await res.text() };
  };

  it('a non-ASCII or spaced path is decoded once: PATH_INFO=/café, REQUEST_URI stays encoded once', async () => {
    const res = await get('/cgi-bin/hello.sh/caf%C3%A9/a%20b');
    expect(res.status).toBe(200);
    const env = parse(res.text);
    expect(env.PATH_INFO).toBe('/café/a b');
    expect(env.REQUEST_URI).toBe(`${server.stagePath}/cgi-bin/hello.sh/caf%C3%A9/a%20b`);
  });

  it('static files named café.html and "my file.html" are found', async () => {
    expect(await get('/caf%C3%A9.html')).toEqual({ status: 200, text: 'café page\n' });
    expect(await get('/my%20file.html')).toEqual({ status: 200, text: 'spaced page\n' });
    const access = server.stdout().split('\n').filter((l) => l.includes('"type":"access"'));
    expect(access.some((l) => l.includes('"uri":"' + server.stagePath + '/caf%C3%A9.html"'))).toBe(true);
    expect(server.stdout()).not.toContain('%25C3');
  });

  it('an empty form field stays one (`?words=`): no ISINDEX words', async () => {
    const env = parse((await get('/cgi-bin/hello.sh?words=')).text);
    expect(env.QUERY_STRING).toBe('words=');
    expect(env.ARGC).toBe('0');
  });

  it('an ISINDEX search (`?perl+cgi`) still gives its words as arguments', async () => {
    const env = parse((await get('/cgi-bin/hello.sh?perl+cgi')).text);
    expect(env.ARGS).toBe('perl cgi');
  });

  it('scripts run with LANG=LC_ALL=C.UTF-8, and Perl prints no locale warning', async () => {
    expect(parse((await get('/cgi-bin/hello.sh')).text)).toMatchObject({ LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' });
    const res = await get('/cgi-bin/locale.pl');
    expect(res.text).toBe('locale=C.UTF-8\n');
    expect(server.stderr()).not.toMatch(/perl: warning|Setting locale failed/);
  });

  it('URLs over Node\'s 16 KiB header limit are refused by serverless-offline itself, before the handler', async () => {
    const ok = await get(`/cgi-bin/hello.sh?q=${'a'.repeat(15_000)}`);
    expect(ok.status).toBe(200);
    const before = server.stdout().length;
    for (const n of [20_000, 70_000]) {
      const res = await get(`/cgi-bin/hello.sh?q=${'a'.repeat(n)}`);
      expect(res).toEqual({ status: 400, text: '' });
    }
    expect(server.stdout().slice(before)).not.toContain('"type":"access"');
  });
});
