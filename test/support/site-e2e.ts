/**
 * The example site (layers/) end to end through serverless-offline, over real
 * HTTP: shared by test/e2e/offline-http.test.ts (HTTP API) and
 * test/e2e/offline-rest.test.ts (REST API, every URL under the /dev stage).
 *
 * The server runs with CGI_ROOT pointing at a temporary copy of
 * layers/cgi-bin plus two broken scripts, as `CGI_ROOT=/dir npm start` would.
 * Expected search results come from layers/cgi-bin/data/jobs.tsv, read here
 * independently of the Perl code.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, startOffline, type Offline } from './offline';
import { allProcesses, isRunning, liveInGroups, procStat, settle } from './processes';

function isDescendant(pid: number, ancestor: number): boolean {
  for (let p = procStat(pid), n = 0; p !== undefined && n < 20; p = procStat(p.ppid), n++) if (p.ppid === ancestor) return true;
  return false;
}

export const LAYER = join(REPO, 'layers');

export interface Job {
  id: string;
  title: string;
  company: string;
  location: string;
  category: string;
  posted: string;
  description: string;
}

export function loadJobs(): Job[] {
  const jobs: Job[] = [];
  for (const line of readFileSync(join(LAYER, 'cgi-bin', 'data', 'jobs.tsv'), 'utf8').split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const [id, title, company, location, category, , posted, description] = line.split('\t');
    jobs.push({ id, title, company, location, category, posted, description });
  }
  // Newest first, then by id: the order search.pl lists them in.
  return jobs.sort((a, b) => b.posted.localeCompare(a.posted) || Number(a.id) - Number(b.id));
}

/** What search.pl should find: every word in title, description or company; loc a substring of the location. */
export function expectedSearch(q: string, loc = ''): Job[] {
  const words = q.toLowerCase().split(/\s+/).filter(Boolean);
  return loadJobs().filter((j) => {
    const hay = `${j.title} ${j.description} ${j.company}`.toLowerCase();
    return words.every((w) => hay.includes(w)) && j.location.toLowerCase().includes(loc.toLowerCase());
  });
}

export interface Page {
  url: string;
  status: number;
  headers: Headers;
  body: Buffer;
  text: string;
}

/** One request, redirects not followed, the body read whole. */
export async function request(url: string, init: RequestInit = {}): Promise<Page> {
  const res = await fetch(url, { redirect: 'manual', ...init });
  const body = Buffer.from(await res.arrayBuffer());
  return { url, status: res.status, headers: res.headers, body, text: body.toString('utf8') };
}

/** Every href, src and action in a page, entities decoded, in order of appearance. */
export function linksOf(html: string): string[] {
  return [...html.matchAll(/\b(?:href|src|action)="([^"]*)"/g)].map((m) => m[1].replace(/&amp;/g, '&'));
}

/** name=value of each Set-Cookie, and its attributes (lower-cased names). */
export function setCookies(page: Page): Array<{ pair: string; name: string; value: string; attrs: string[] }> {
  return page.headers.getSetCookie().map((line) => {
    const [pair, ...attrs] = line.split(/;\s*/);
    const eq = pair.indexOf('=');
    return { pair, name: pair.slice(0, eq), value: pair.slice(eq + 1), attrs: attrs.map((a) => a.toLowerCase()) };
  });
}

/** The handler's JSON log lines among everything serverless-offline printed. */
export function jsonLogLines(server: Offline): Array<Record<string, any>> {
  return [server.stdout(), server.stderr()]
    .flatMap((s) => s.split('\n'))
    .filter((l) => l.startsWith('{"level":'))
    .map((l) => JSON.parse(l));
}

/** Job ids linked from a results page, in order. */
const jobIdsIn = (html: string, stagePath: string) =>
  [...html.matchAll(new RegExp(`href="${stagePath}/cgi-bin/job\\.pl/(\\d+)"`, 'g'))].map((m) => m[1]);

const BROKEN_PL = `#!/usr/bin/perl
use strict;
print "Content-Type: text/html\\n\\n" . $undeclared_variable;
`;
const NO_HEADERS_SH = `#!/bin/sh
echo "a page without its header block"
`;

/** perlWorker 'off' runs the same site with plain spawn only (CGI_PERL_WORKER=off, CGI_SPAWNER=off). */
export function describeSite(api: 'http' | 'rest', opts: { perlWorker?: 'off' } = {}): void {
  const mode = opts.perlWorker === 'off' ? ', CGI_PERL_WORKER=off' : '';
  describe(`the example site through serverless-offline (${api === 'http' ? 'HTTP API' : 'REST API, stage /dev'}${mode})`, () => {
    let server: Offline | undefined;
    let tmp: string;
    let stage: string;
    const url = (path: string) => server!.base + path;

    beforeAll(async () => {
      tmp = mkdtempSync(join(tmpdir(), 'lambda-cgi-e2e-'));
      const cgiRoot = join(tmp, 'cgi-bin');
      mkdirSync(cgiRoot);
      for (const [name, text] of [['broken.pl', BROKEN_PL], ['noheaders.sh', NO_HEADERS_SH]]) {
        writeFileSync(join(cgiRoot, name), text);
        chmodSync(join(cgiRoot, name), 0o755);
      }
      // The site's writable cgi-bin/db becomes a link into tmp/.data (as ./.data for npm start).
      const env: Record<string, string> = { CGI_ROOT: cgiRoot, CGI_OFFLINE_LAYER_DIR: tmp, CGI_DATA_DIR: join(tmp, '.data') };
      if (opts.perlWorker) Object.assign(env, { CGI_PERL_WORKER: opts.perlWorker, CGI_SPAWNER: 'off' });
      server = await startOffline({ api, env });
      stage = server.stagePath;
      // Copied once the server is up: starting it is what builds logo.cgi into layers/cgi-bin.
      // logo.cgi reads ../htdocs/logo.png next to its own directory, hence htdocs too.
      // Not layers/cgi-bin/db: a local npm start's link to the project's own .data/.
      cpSync(join(LAYER, 'cgi-bin'), cgiRoot, { recursive: true, filter: (src) => src !== join(LAYER, 'cgi-bin', 'db') });
      cpSync(join(LAYER, 'htdocs'), join(tmp, 'htdocs'), { recursive: true });
    }, 90_000);

    afterAll(async () => {
      await server?.stop();
      rmSync(tmp, { recursive: true, force: true });
    }, 30_000);

    it('serves the static home page with relative links', async () => {
      const home = await request(url('/'));
      expect(home.status).toBe(200);
      expect(home.headers.get('content-type')).toMatch(/^text\/html/);
      expect(home.text).toContain('<title>Acme Jobs - Find your next job</title>');
      expect(home.text).toBe(readFileSync(join(LAYER, 'htdocs', 'index.html'), 'utf8'));
      // Root-absolute links would leave the /dev stage of a REST API.
      expect(linksOf(home.text).filter((l) => l.startsWith('/'))).toEqual([]);
    });

    it('every link, image and form action of the static pages works from where the page is', async () => {
      for (const page of ['/', '/about.html']) {
        const pageUrl = url(page);
        const html = (await request(pageUrl)).text;
        const targets = [...new Set(linksOf(html).map((l) => new URL(l, pageUrl).href))];
        expect(targets).toEqual(expect.arrayContaining([url('/'), url('/cgi-bin/search.pl'), url('/style.css'), url('/logo.png')]));
        for (const target of targets) {
          expect(target.startsWith(server!.base + '/')).toBe(true);
          const res = await request(target);
          expect({ page, target, status: res.status }).toEqual({ page, target, status: 200 });
        }
      }
    });

    it('searches with query parameters: results, sticky form, links under the stage, a cookie', async () => {
      const want = expectedSearch('perl developer', 'austin');
      expect(want.length).toBeGreaterThan(0);
      const page = await request(url('/cgi-bin/search.pl?q=perl+developer&loc=Austin'));
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.text).toContain(`<h1>${want.length} job${want.length === 1 ? '' : 's'} found matching <b>&quot;perl developer&quot;</b> in <b>Austin</b></h1>`);
      expect(jobIdsIn(page.text, stage)).toEqual(want.map((j) => j.id));
      expect(page.text).toContain(`<form class="search" method="get" action="${stage}/cgi-bin/search.pl">`);
      expect(page.text).toContain('name="q" value="perl developer"');
      expect(page.text).toContain(`<link rel="stylesheet" href="${stage}/style.css">`);
      const cookie = setCookies(page).find((c) => c.name === 'last_search');
      expect(cookie?.value).toBe(encodeURIComponent('q=perl%20developer&loc=Austin'));
    });

    it('pages through results with links built from SCRIPT_NAME, and the links work', async () => {
      const all = expectedSearch('web');
      expect(all.length).toBeGreaterThan(10);
      const first = await request(url('/cgi-bin/search.pl?q=web&loc=&category='));
      expect(first.status).toBe(200);
      expect(first.text).toContain(`Showing 1-10 of ${all.length} (page 1 of 2)`);
      expect(jobIdsIn(first.text, stage)).toEqual(all.slice(0, 10).map((j) => j.id));
      const next = /<a href="([^"]*)" rel="next">/.exec(first.text)?.[1].replace(/&amp;/g, '&');
      expect(next).toBe(`${stage}/cgi-bin/search.pl?q=web&page=2`);

      const second = await request(new URL(next!, first.url).href);
      expect(second.status).toBe(200);
      expect(second.text).toContain(`Showing 11-${all.length} of ${all.length} (page 2 of 2)`);
      expect(jobIdsIn(second.text, stage)).toEqual(all.slice(10, 20).map((j) => j.id));
      expect(second.text).toContain(`<a href="${stage}/cgi-bin/search.pl?q=web" rel="prev">`);

      // Everything the script linked (navigation, style, logo, jobs, pages, brochure) answers.
      const targets = [...new Set(linksOf(second.text).map((l) => new URL(l, second.url).href))];
      for (const target of targets) {
        expect(target.startsWith(server!.base + '/')).toBe(true);
        expect({ target, status: (await request(target)).status }).toEqual({ target, status: 200 });
      }
    });

    it('shows a job named by PATH_INFO, and a friendly 404 for an unknown one', async () => {
      const job = expectedSearch('perl')[0];
      const page = await request(url(`/cgi-bin/job.pl/${job.id}`));
      expect(page.status).toBe(200);
      expect(page.text).toContain(`<h1>${job.title}</h1>`);
      expect(page.text).toContain(`href="${stage}/cgi-bin/apply.pl?job=${job.id}"`);

      const missing = await request(url('/cgi-bin/job.pl/99999'));
      expect(missing.status).toBe(404);
      expect(missing.text).toContain("Sorry, we couldn't find that job");
      expect(missing.text).toContain('Job #99999');
    });

    describe('the application form', () => {
      const job = () => loadJobs().find((j) => j.id === '7')!;
      const post = (fields: Record<string, string>) =>
        request(url('/cgi-bin/apply.pl'), { method: 'POST', body: new URLSearchParams(fields) });
      let thanks: Page;

      it('is shown with its action under the stage', async () => {
        const form = await request(url('/cgi-bin/apply.pl?job=7'));
        expect(form.status).toBe(200);
        expect(form.text).toContain(`<form class="apply" method="post" action="${stage}/cgi-bin/apply.pl">`);
        expect(form.text).toContain(`Apply for: <a href="${stage}/cgi-bin/job.pl/7">${job().title}</a>`);
      });

      it('comes back with the errors and the values typed when a field is wrong', async () => {
        const page = await post({ job: '7', name: '', email: 'not-an-address', message: 'Kept <as typed>' });
        expect(page.status).toBe(200);
        expect(page.headers.get('location')).toBeNull();
        expect(page.headers.getSetCookie()).toEqual([]);
        expect(page.text).toContain('<li>Please tell us your name.</li>');
        expect(page.text).toContain('<li>That does not look like a valid e-mail address.</li>');
        expect(page.text).toContain('value="not-an-address"');
        expect(page.text).toContain('Kept &lt;as typed&gt;</textarea>');
      });

      it('redirects a valid POST with 303 to the thanks page and sets two cookies', async () => {
        const page = await post({ job: '7', name: 'Zoë Public', email: 'zoe@example.com', message: 'I maintain Perl since 1998.' });
        expect(page.status).toBe(303);
        expect(page.headers.get('location')).toBe(`${server!.base}/cgi-bin/thanks.pl?name=Zo%C3%AB%20Public&job=7`);
        const cookies = setCookies(page);
        expect(cookies.map((c) => c.pair)).toEqual(['applicant=Zo%C3%AB%20Public', 'last_job=7']);
        expect(cookies[0].attrs).toEqual(expect.arrayContaining(['path=/', 'httponly', 'samesite=lax']));
        expect(cookies[1].attrs).toEqual(expect.arrayContaining(['path=/', 'max-age=2592000']));

        // Stored in the database in the writable directory, a link into the data directory.
        expect(lstatSync(join(tmp, 'cgi-bin', 'db')).isSymbolicLink()).toBe(true);
        const rows = execFileSync('sqlite3', ['-separator', '|', join(tmp, '.data', 'cgi-bin', 'db', 'acme.db'),
          "SELECT job_id, name, email, message FROM applications WHERE email = 'zoe@example.com'"], { encoding: 'utf8' });
        expect(rows).toBe('7|Zoë Public|zoe@example.com|I maintain Perl since 1998.\n');

        // The browser sends the cookies back to the Location.
        thanks = await request(page.headers.get('location')!, { headers: { cookie: cookies.map((c) => c.pair).join('; ') } });
      });

      it('greets the applicant by the cookie sent back', () => {
        expect(thanks.status).toBe(200);
        expect(thanks.text).toContain('<h1>Thank you, Zoë Public!</h1>');
        expect(thanks.text).toContain('We recognised you from the <code>applicant</code> cookie');
        expect(thanks.text).toContain(`<a href="${stage}/cgi-bin/job.pl/7">${job().title}</a>`);
      });

      it('tells a visitor without the cookie apart', async () => {
        const page = await request(url('/cgi-bin/thanks.pl?name=Someone'));
        expect(page.text).toContain('<h1>Thank you, Someone!</h1>');
        expect(page.text).toContain('did not send back our <code>applicant</code> cookie');
      });
    });

    it('sends the C program’s PNG byte for byte', async () => {
      const png = readFileSync(join(LAYER, 'htdocs', 'logo.png'));
      const logo = await request(url('/cgi-bin/logo.cgi'));
      expect(logo.status).toBe(200);
      expect(logo.headers.get('content-type')).toBe('image/png');
      expect(logo.body.equals(png)).toBe(true);

      const download = await request(url('/cgi-bin/logo.cgi?download=1'));
      expect(download.headers.get('content-disposition')).toMatch(/^attachment;/);
      expect(download.body.equals(png)).toBe(true);

      const file = await request(url('/logo.png'));
      expect(file.headers.get('content-type')).toBe('image/png');
      expect(file.body.equals(png)).toBe(true);
    });

    it('sends the shell script’s PDF download byte for byte', async () => {
      const pdf = readFileSync(join(LAYER, 'cgi-bin', 'data', 'acme-brochure.pdf'));
      const res = await request(url('/cgi-bin/brochure.sh'));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/pdf');
      expect(res.headers.get('content-disposition')).toBe('attachment; filename="acme-jobs-brochure.pdf"');
      expect(res.body.equals(pdf)).toBe(true);
    });

    it('passes an nph- script’s own status line and headers through', async () => {
      const res = await request(url('/cgi-bin/nph-time.pl'));
      expect(res.status).toBe(200);
      expect(res.headers.get('x-acme-nph')).toBe('1');
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(res.text).toMatch(/^Acme Jobs server status\n/);
      expect(res.text).toContain('protocol:    HTTP/1.1\n');
      expect(res.text).toMatch(/software: +lambda-cgi\//);
    });

    it('answers 404 for a script or a page that does not exist', async () => {
      for (const path of ['/cgi-bin/no-such-script.pl', '/no-such-page.html']) {
        const res = await request(url(path));
        expect({ path, status: res.status }).toEqual({ path, status: 404 });
        expect(res.headers.get('content-type')).toMatch(/^text\/html/);
        expect(res.text).toContain('<title>404 Not Found</title>');
      }
    });

    it('answers 500 for a script that dies before its headers, and logs why', async () => {
      const res = await request(url('/cgi-bin/broken.pl'));
      expect(res.status).toBe(500);
      expect(res.text).toContain('<title>500 Internal Server Error</title>');
      expect(res.text).not.toMatch(/Global symbol|undeclared_variable|\/tmp\//);
      // Perl's complaint goes to the function's log (JSON lines), not to the visitor.
      const logged = () => jsonLogLines(server!).filter((l) => l.script === `${stage}/cgi-bin/broken.pl`);
      const perlSaid = () => logged().some((l) => l.type === 'stderr' && /^Global symbol "\$undeclared_variable"/.test(l.message));
      const handlerSaid = () => logged().some((l) => l.level === 'error' && /^bad script response/.test(l.message));
      // The lines reach serverless-offline's output a little after the response.
      await settle(() => perlSaid() && handlerSaid(), 10_000);
      expect({ perlSaid: perlSaid(), handlerSaid: handlerSaid() }).toEqual({ perlSaid: true, handlerSaid: true });
    });

    it('answers 500 for a script whose output has no header block', async () => {
      const res = await request(url('/cgi-bin/noheaders.sh'));
      expect(res.status).toBe(500);
      expect(res.text).toContain('<title>500 Internal Server Error</title>');
      expect(res.text).not.toContain('a page without its header block');
    });

    it(`the Perl pages were served by ${opts.perlWorker === 'off' ? 'plain spawn only' : 'the Perl worker (started at init)'}`, () => {
      const perl = jsonLogLines(server!).filter((l) => l.type === 'access' && /\.pl$/.test(l.script ?? '') && l.status === 200);
      expect(perl.length).toBeGreaterThan(3);
      const runners = new Set(perl.map((l) => l.runner));
      if (opts.perlWorker === 'off') expect(runners).toEqual(new Set(['spawn']));
      else expect(runners.has('perl-worker')).toBe(true);
    });

    it('stops, leaving no process of its group behind', async () => {
      const pid = server!.pid;
      const perlServers = allProcesses().filter((p) => p.comm === 'perl' && isDescendant(p.pid, pid)).map((p) => p.pid);
      await server!.stop();
      expect(liveInGroups([pid])).toEqual([]);
      // The Perl worker runs in a group of its own and goes when its Node process goes.
      expect(await settle(() => perlServers.every((p) => !isRunning(p)), 5000)).toBe(true);
    });
  });
}
