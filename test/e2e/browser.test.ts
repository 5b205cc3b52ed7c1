/**
 * A visitor in a real browser: Debian's Chromium, driven by playwright-core,
 * against serverless-offline (HTTP API) serving the example site from layers/.
 * Home page, search form, paging, a job, the application form (an error, then
 * a valid post and its redirect), the thanks page greeting by cookie, the
 * site's own 404 page, and a login to the protected employer area.
 * Screenshots of each step go to test/artifacts/ (ignored by git).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { REPO, startOffline, type Offline } from '../support/offline';
import { liveInGroups } from '../support/processes';
import { expectedSearch, loadJobs } from '../support/site-e2e';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(REPO, 'test', 'artifacts');
const ARGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

let server: Offline | undefined;
let browser: Browser | undefined;
let context: BrowserContext;
let page: Page;

async function screenshot(name: string): Promise<void> {
  const file = join(ARTIFACTS, `browser-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  expect(readFileSync(file).subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
}

const pathOf = (p: Page) => {
  const u = new URL(p.url());
  return u.pathname + u.search;
};

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the browser test needs Debian's chromium package (apt-get install chromium; scripts/setup.mjs installs it)`);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await startOffline();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
  page = await context.newPage();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
}, 30_000);

describe('a visitor in Chromium', () => {
  const web = expectedSearch('web');
  // The first listing on page 2, where the visitor is when they pick one.
  const firstJob = web[10];

  it('opens the home page, styled and with its logo', async () => {
    const res = await page.goto(server!.base + '/');
    expect(res?.status()).toBe(200);
    expect(await page.title()).toBe('Acme Jobs - Find your next job');
    // The stylesheet and the image really loaded.
    // (Expressions as strings: they run in the page, and this project compiles without DOM types.)
    expect(await page.evaluate('getComputedStyle(document.body).backgroundColor')).toBe('rgb(232, 236, 242)');
    expect(await page.evaluate('document.querySelector("#header img").naturalWidth')).toBe(160);
    await screenshot('1-home');
  });

  it('fills in and submits the search form', async () => {
    await page.fill('form.search input[name="q"]', 'web');
    await Promise.all([page.waitForURL(/search\.pl/), page.click('form.search input[type="submit"]')]);
    expect(pathOf(page)).toBe('/cgi-bin/search.pl?q=web&loc=&category=');
    expect(await page.textContent('h1')).toBe(`${web.length} jobs found matching "web"`);
    expect(await page.locator('table.results tr.even, table.results tr.odd').count()).toBe(10);
    expect(await page.inputValue('form.search input[name="q"]')).toBe('web');
    await screenshot('2-results');
  });

  it('follows the paging link', async () => {
    await Promise.all([page.waitForURL(/page=2/), page.click('a[rel="next"]')]);
    expect(pathOf(page)).toBe('/cgi-bin/search.pl?q=web&page=2');
    expect(await page.textContent('p.count')).toBe(`Showing 11-${web.length} of ${web.length} (page 2 of 2)`);
    expect(await page.locator('table.results tr.even, table.results tr.odd').count()).toBe(web.length - 10);
    await screenshot('3-page-2');
  });

  it('opens a job from the results', async () => {
    await Promise.all([page.waitForURL(/job\.pl\//), page.click('table.results a >> nth=0')]);
    expect(pathOf(page)).toBe(`/cgi-bin/job.pl/${firstJob.id}`);
    expect(await page.textContent('h1')).toBe(firstJob.title);
    await screenshot('4-job');
  });

  it('applies: a missing name and a bad address come back as errors, values kept', async () => {
    await Promise.all([page.waitForURL(/apply\.pl/), page.click('a.button')]);
    expect(pathOf(page)).toBe(`/cgi-bin/apply.pl?job=${firstJob.id}`);
    await page.fill('#email', 'not-an-address');
    await page.fill('#message', 'I have kept CGI sites alive since 1998.');
    // The form posts to apply.pl without the query: the URL tells the new page has come.
    await Promise.all([page.waitForURL((u) => u.pathname === '/cgi-bin/apply.pl' && u.search === ''), page.click('form.apply input[type="submit"]')]);
    expect(await page.locator('div.errors li').allTextContents()).toEqual([
      'Please tell us your name.',
      'That does not look like a valid e-mail address.',
    ]);
    expect(await page.inputValue('#message')).toBe('I have kept CGI sites alive since 1998.');
    await screenshot('5-apply-errors');
  });

  it('applies for real: redirected to the thanks page, greeted by the cookie', async () => {
    await page.fill('#name', 'Zoë Public');
    await page.fill('#email', 'zoe@example.com');
    await Promise.all([page.waitForURL(/thanks\.pl/), page.click('form.apply input[type="submit"]')]);
    expect(pathOf(page)).toBe(`/cgi-bin/thanks.pl?name=Zo%C3%AB%20Public&job=${firstJob.id}`);
    expect(await page.textContent('h1')).toBe('Thank you, Zoë Public!');
    expect(await page.textContent('p.note')).toBe('(We recognised you from the applicant cookie.)');
    const job = loadJobs().find((j) => j.id === firstJob.id)!;
    expect(await page.locator(`a[href="/cgi-bin/job.pl/${job.id}"]`).first().textContent()).toBe(job.title);
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'applicant')).toMatchObject({ value: 'Zo%C3%AB%20Public', httpOnly: true, path: '/' });
    expect(cookies.find((c) => c.name === 'last_job')?.value).toBe(firstJob.id);
    await screenshot('6-thanks');
  });

  it('a missing page is the site\'s own 404, styled like the rest', async () => {
    const res = await page.goto(server!.base + '/no-such-page.html');
    expect(res?.status()).toBe(404);
    expect(await page.textContent('h1')).toBe('Page not found');
    expect(await page.textContent('#content code')).toBe('/no-such-page.html');
    expect(await page.evaluate('getComputedStyle(document.body).backgroundColor')).toBe('rgb(232, 236, 242)');
    await screenshot('7-not-found');
  });

  it('the employer area asks for a login, and lets the employer in', async () => {
    // Headless Chromium turns a 401 it cannot answer into a navigation error, so the refusals are checked over plain HTTP.
    const url = server!.base + '/cgi-bin/employer/';
    const refused = await fetch(url);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Basic realm="Acme Jobs employers"');
    const wrong = await fetch(url, { headers: { authorization: 'Basic ' + Buffer.from('employer:wrong').toString('base64') } });
    expect(wrong.status).toBe(401);

    const employer = await browser!.newContext({ httpCredentials: { username: 'employer', password: 'acme-hiring' } });
    const inside = await employer.newPage();
    const res = await inside.goto(url);
    expect(res?.status()).toBe(200);
    expect(await inside.textContent('#user')).toBe('employer');
    await inside.screenshot({ path: join(ARTIFACTS, 'browser-8-employer.png') });
    await employer.close();
  });

  it('stops the server, leaving no process of its group behind', async () => {
    await browser!.close();
    const pid = server!.pid;
    await server!.stop();
    expect(liveInGroups([pid])).toEqual([]);
  });
});
