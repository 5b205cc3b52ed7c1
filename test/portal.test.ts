/**
 * The example portal on SQLite (DBI, DBD::SQLite): the real handler running the
 * real Perl scripts from a copy of layers/, with the site's writable cgi-bin/db
 * linked into a data directory as CGI_WRITABLE makes it. The database is read
 * back with the sqlite3 command line, independently of the Perl code.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, lstatSync, mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answerOf, httpApiEvent } from './support/events';
import { runHandlerProcess } from './support/handler-process';
import { cleanup, harness, type Harness } from './support/site';
import { expectedSearch, LAYER } from './support/site-e2e';

const sql = (db: string, query: string) => execFileSync('sqlite3', ['-separator', '|', db, query], { encoding: 'utf8' });

describe('the example portal on SQLite', () => {
  let tmp: string;
  let h: Harness;
  let db: string;
  const get = async (path: string, query = '', headers: Record<string, string> = {}) =>
    answerOf(await h.invoke(httpApiEvent({ path, query, headers })));
  const post = async (fields: Record<string, string>) =>
    answerOf(await h.invoke(httpApiEvent({
      method: 'POST', path: '/cgi-bin/apply.pl', body: new URLSearchParams(fields).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })));
  const jobIds = (html: string) => [...html.matchAll(/href="\/cgi-bin\/job\.pl\/(\d+)"/g)].map((m) => m[1]);

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'lambda-cgi-portal-'));
    for (const d of ['cgi-bin', 'htdocs']) {
      cpSync(join(LAYER, d), join(tmp, d), { recursive: true, filter: (src) => src !== join(LAYER, 'cgi-bin', 'db') });
    }
    // The employer area's Basic auth (employer/.htaccess) is the site policy's, tested with it; here the
    // page's own refusal without REMOTE_USER is, so the area is left unprotected in this copy.
    rmSync(join(tmp, 'cgi-bin', 'employer', '.htaccess'), { force: true });
    h = harness({
      IS_OFFLINE: 'true', CGI_OFFLINE_LAYER_DIR: tmp, CGI_WRITABLE: 'cgi-bin/db', CGI_DATA_DIR: join(tmp, 'data'),
      CGI_TIMEOUT_MS: '60000', CGI_ENV_PERL_BADLANG: '0',
    });
    db = join(tmp, 'data', 'cgi-bin', 'db', 'acme.db');
  });
  afterAll(() => cleanup(tmp));

  it('creates its database on first use, in the writable directory, from data/jobs.tsv', async () => {
    const page = await get('/cgi-bin/search.pl');
    expect(page.status).toBe(200);
    expect(readlinkSync(join(tmp, 'cgi-bin', 'db'))).toBe(join(tmp, 'data', 'cgi-bin', 'db'));
    expect(lstatSync(db).isFile()).toBe(true);
    expect(sql(db, 'SELECT COUNT(*) FROM jobs')).toBe(`${expectedSearch('').length}\n`);
    // Rollback journal, not WAL: safe on EFS, where instances are different hosts.
    expect(sql(db, 'PRAGMA journal_mode')).toBe('delete\n');
  });

  it('searches by words, location and category with the results the listings file gives', async () => {
    const page = await get('/cgi-bin/search.pl', 'q=perl+developer&loc=austin');
    const want = expectedSearch('perl developer', 'austin');
    expect(want.length).toBeGreaterThan(0);
    expect(page.body.toString()).toContain(`${want.length} job${want.length === 1 ? '' : 's'} found`);
    expect(jobIds(page.body.toString())).toEqual(want.map((j) => j.id));

    const web = expectedSearch('web');
    const page2 = await get('/cgi-bin/search.pl', 'q=web&page=2');
    expect(jobIds(page2.body.toString())).toEqual(web.slice(10, 20).map((j) => j.id));

    const eng = await get('/cgi-bin/search.pl', 'category=engineering');
    expect(eng.body.toString()).toMatch(/<h1>\d+ jobs found in category <b>engineering<\/b><\/h1>/);
  });

  it('takes input as data, never as SQL: quotes, LIKE wildcards and statements match only as text and change nothing', async () => {
    for (const q of ["' OR '1'='1", '%', '_', "x'); DROP TABLE jobs; --", '" OR 1=1 --']) {
      const page = await get('/cgi-bin/search.pl', `q=${encodeURIComponent(q)}`);
      expect({ q, status: page.status }).toEqual({ q, status: 200 });
      // What the listings file holds literally: '%' finds the one job that mentions "50%", not all of them.
      const found = Number(/<h1>(\d+) jobs? found/.exec(page.body.toString())?.[1]);
      expect({ q, found }).toEqual({ q, found: expectedSearch(q).length });
    }
    const page = await get('/cgi-bin/search.pl', `loc=${encodeURIComponent("' OR 1=1 --")}`);
    expect(page.body.toString()).toContain('<h1>0 jobs found');
    expect(expectedSearch('%')).toHaveLength(1);
    expect(sql(db, 'SELECT COUNT(*) FROM jobs')).toBe(`${expectedSearch('').length}\n`);
  });

  it('shows one job from the database, and 404 for an unknown id', async () => {
    const job = expectedSearch('perl')[0];
    const page = await get(`/cgi-bin/job.pl/${job.id}`);
    expect(page.status).toBe(200);
    expect(page.body.toString()).toContain(`<h1>${job.title.replace(/&/g, '&amp;')}</h1>`);
    expect((await get('/cgi-bin/job.pl/99999')).status).toBe(404);
  });

  it('40 concurrent applications: 40 rows, none lost, each whole', async () => {
    const before = Number(sql(db, 'SELECT COUNT(*) FROM applications'));
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) =>
      post({ job: String((i % 5) + 1), name: `Applicant ${i}`, email: `a${i}@example.com`, message: `Message number ${i}` })));
    expect(answers.map((a) => a.status)).toEqual(Array(40).fill(303));
    expect(Number(sql(db, 'SELECT COUNT(*) FROM applications')) - before).toBe(40);
    const rows = sql(db, "SELECT name, email, message, job_id FROM applications WHERE name LIKE 'Applicant %' ORDER BY email").trim().split('\n');
    const want = Array.from({ length: 40 }, (_, i) => `Applicant ${i}|a${i}@example.com|Message number ${i}|${(i % 5) + 1}`).sort((a, b) => (a.split('|')[1] < b.split('|')[1] ? -1 : 1));
    expect(rows).toEqual(want);
    expect(h.err.join('')).not.toContain('cannot save');
  }, 120_000);

  it('the employer page lists the applications, newest first, escaped, with the job applied for', async () => {
    await post({ job: '', name: 'Eve <script>', email: 'eve@example.com', message: 'General <b>question</b>' });
    // Without a signed-in user (no Basic auth in front of it here) the page lists nothing.
    const anonymous = await get('/cgi-bin/employer/');
    expect(anonymous.status).toBe(403);
    expect(anonymous.body.toString()).not.toContain('Eve');
    // REMOTE_USER from an authorizer, as Basic auth would set it.
    const page = answerOf(await h.invoke(httpApiEvent({ path: '/cgi-bin/employer/' }, { authorizer: { jwt: { claims: { username: 'recruiter' } } } })));
    expect(page.status).toBe(200);
    const html = page.body.toString();
    expect(html).toContain('Signed in as <b id="user">recruiter</b>');
    const total = Number(sql(db, 'SELECT COUNT(*) FROM applications'));
    expect(html).toContain(`<h1>Applications received: ${total}</h1>`);
    expect(html).toContain('Eve &lt;script&gt;');
    expect(html).not.toContain('<script>');
    expect(html).toContain('General &lt;b&gt;question&lt;/b&gt;');
    const firstRow = html.indexOf('<tr class=');
    expect(html.indexOf('Eve &lt;script&gt;')).toBeGreaterThan(firstRow);
    expect(html.indexOf('Eve &lt;script&gt;')).toBeLessThan(html.indexOf('Applicant 0<'));
    expect(html).toContain('General enquiry');
    const title1 = sql(db, 'SELECT title FROM jobs WHERE id = 1').trim();
    expect(html).toContain(`<a href="/cgi-bin/job.pl/1">${title1.replace(/&/g, '&amp;')}</a>`);
    // Links from one folder down still lead to the site's pages.
    expect(html).toContain('<link rel="stylesheet" href="/style.css">');
    expect(html).toContain('<a href="/cgi-bin/search.pl">Browse jobs</a>');
  });

  it('20 concurrent applications as the very first requests: one creates the database, none is lost', async () => {
    const fresh = harness({
      IS_OFFLINE: 'true', CGI_OFFLINE_LAYER_DIR: tmp, CGI_WRITABLE: 'cgi-bin/db', CGI_TIMEOUT_MS: '60000', CGI_ENV_PERL_BADLANG: '0',
      CGI_ENV_ACME_DATA_DIR: join(tmp, 'fresh'),
    });
    execFileSync('mkdir', ['-p', join(tmp, 'fresh')]);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => fresh.invoke(httpApiEvent({
      method: 'POST', path: '/cgi-bin/apply.pl', body: `name=First+${i}&email=f${i}%40example.com&message=Hello&job=3`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }))));
    expect(answers.map((a) => answerOf(a).status)).toEqual(Array(20).fill(303));
    const freshDb = join(tmp, 'fresh', 'acme.db');
    expect(sql(freshDb, 'SELECT COUNT(*) FROM applications')).toBe('20\n');
    expect(sql(freshDb, 'SELECT COUNT(*) FROM jobs')).toBe(`${expectedSearch('').length}\n`);
  }, 120_000);

  it('on a read-only data directory, searches still work and a refused application is explained in the log', async () => {
    const data = join(tmp, 'data');
    const env = { IS_OFFLINE: 'true', CGI_OFFLINE_LAYER_DIR: tmp, CGI_WRITABLE: 'cgi-bin/db', CGI_DATA_DIR: data, CGI_ENV_PERL_BADLANG: '0', CGI_LOG_FORMAT: 'json' };
    const readOnly = ['unshare', '-m', 'sh', '-c', 'mount --bind -o ro "$0" "$0" && exec "$@"', data];
    const apply = httpApiEvent({
      method: 'POST', path: '/cgi-bin/apply.pl', body: 'name=Late&email=late%40example.com&message=Hi',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const run = await runHandlerProcess(env, [httpApiEvent({ path: '/cgi-bin/search.pl', query: 'q=perl' }), apply], readOnly);
    expect(run.answers.map((a) => a.status)).toEqual([200, 500]);
    expect(run.answers[1].body.toString()).toContain('We could not save your application');
    const lines = run.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    expect(lines.find((l) => l.type === 'stderr')?.message).toMatch(/attempt to write a readonly database/);
    const diagnosis = lines.find((l) => l.level === 'error' && l.message.startsWith('script could not write'));
    // The script named the file through the link; the writable directory is already configured, so the advice is about the mount.
    expect(diagnosis?.message).toContain(`script could not write ${tmp}/cgi-bin/db/acme.db: the file system is read-only. ${tmp}/cgi-bin/db/acme.db is in the CGI_WRITABLE directory cgi-bin/db, linked to ${data}/cgi-bin/db, which refuses it too`);
    expect(diagnosis?.message).toContain('efsAccessPoint');
    expect(sql(db, "SELECT COUNT(*) FROM applications WHERE name = 'Late'")).toBe('0\n');
  }, 60_000);
});
