/**
 * scripts/invoke.ts as a user runs it (a real child process), against the
 * Lambda endpoint of a real serverless-offline: the event it builds goes
 * through the real handler, and what it prints is checked like curl -i output.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childEnv, REPO, startOffline, type Offline } from '../support/offline';
import { liveInGroups } from '../support/processes';
import { expectedSearch, LAYER } from '../support/site-e2e';

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  /** Status line and header lines, split at the first blank line. */
  head: string[];
  body: Buffer;
}

function invoke(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/invoke.ts', ...args], {
      cwd: REPO,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      const stdout = Buffer.concat(out);
      const end = stdout.indexOf('\r\n\r\n');
      const head = end < 0 ? [] : stdout.subarray(0, end).toString('utf8').split('\r\n');
      resolve({ code, stdout, stderr, head, body: end < 0 ? stdout : stdout.subarray(end + 4) });
    });
  });
}

const headers = (run: Run, name: string) =>
  run.head
    .slice(1)
    .filter((l) => l.toLowerCase().startsWith(name.toLowerCase() + ': '))
    .map((l) => l.slice(name.length + 2));

let server: Offline | undefined;
let endpoint: string[];
let tmp: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'lambda-cgi-invoke-'));
  server = await startOffline();
  endpoint = ['--endpoint', `http://localhost:${server.lambdaPort}`];
}, 90_000);

afterAll(async () => {
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
}, 30_000);

describe('scripts/invoke.ts against serverless-offline', () => {
  it('GET with a query: prints the status line, the headers and the page', async () => {
    const run = await invoke(['GET', '/cgi-bin/search.pl?q=perl+developer&loc=Austin', ...endpoint]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.head[0]).toBe('HTTP/1.1 200 OK');
    expect(headers(run, 'Content-Type')).toEqual(['text/html; charset=UTF-8']);
    expect(headers(run, 'Set-Cookie')).toEqual(['last_search=q%3Dperl%2520developer%26loc%3DAustin; Path=/; Max-Age=2592000; SameSite=Lax']);
    const want = expectedSearch('perl developer', 'austin');
    const html = run.body.toString('utf8');
    expect(html).toContain(`<h1>${want.length} job${want.length === 1 ? '' : 's'} found matching`);
    for (const job of want) expect(html).toContain(`href="/cgi-bin/job.pl/${job.id}"`);
  });

  it('POST with -d: the form body reaches the script, which redirects and sets two cookies', async () => {
    const run = await invoke([
      'POST', '/cgi-bin/apply.pl', '-d', 'job=7', '-d', 'name=Jane+Doe', '-d', 'email=jane%40example.com', '-d', 'message=Hello',
      ...endpoint,
    ]);
    expect(run.code).toBe(0);
    expect(run.head[0]).toBe('HTTP/1.1 303 See Other');
    // No Host given: the event carries the API's execute-api domain, as on AWS.
    expect(headers(run, 'Location')).toEqual(['https://abc123.execute-api.us-east-1.amazonaws.com/cgi-bin/thanks.pl?name=Jane%20Doe&job=7']);
    expect(headers(run, 'Set-Cookie')).toEqual([
      'applicant=Jane%20Doe; Path=/; HttpOnly; SameSite=Lax',
      'last_job=7; Path=/; Max-Age=2592000; SameSite=Lax',
    ]);
  });

  it('-H sets request headers: Host reaches the redirect, Cookie the page', async () => {
    const post = await invoke(['POST', '/cgi-bin/apply.pl', '-d', 'name=Jane&email=jane@example.com&message=Hi', '-H', 'Host: jobs.example.com', ...endpoint]);
    expect(post.head[0]).toBe('HTTP/1.1 303 See Other');
    expect(headers(post, 'Location')).toEqual(['https://jobs.example.com/cgi-bin/thanks.pl?name=Jane']);

    const thanks = await invoke(['/cgi-bin/thanks.pl', '-H', 'Cookie: applicant=Jane%20Doe; last_job=7', ...endpoint]);
    expect(thanks.head[0]).toBe('HTTP/1.1 200 OK');
    expect(thanks.body.toString('utf8')).toContain('<h1>Thank you, Jane Doe!</h1>');
  });

  it('--event rest: a REST API event on the execute-api domain, so links carry the stage', async () => {
    const run = await invoke(['GET', '/cgi-bin/search.pl?q=web', '--event', 'rest', ...endpoint]);
    expect(run.head[0]).toBe('HTTP/1.1 200 OK');
    const html = run.body.toString('utf8');
    expect(html).toContain('action="/dev/cgi-bin/search.pl"');
    expect(html).toContain('href="/dev/cgi-bin/search.pl?q=web&amp;page=2" rel="next"');

    const custom = await invoke(['GET', 'https://jobs.example.com/cgi-bin/search.pl?q=web', '--event', 'rest', ...endpoint]);
    expect(custom.body.toString('utf8')).toContain('action="/cgi-bin/search.pl"');
  });

  it.each(['http', 'rest', 'url', 'alb'])('--event %s reaches PATH_INFO scripts', async (kind) => {
    const run = await invoke(['/cgi-bin/job.pl/7', '--event', kind, ...endpoint]);
    expect(run.code).toBe(0);
    expect(run.head[0]).toBe('HTTP/1.1 200 OK');
    expect(run.body.toString('utf8')).toContain('<h1>Perl/CGI Maintenance Programmer</h1>');
  });

  it('writes a binary body raw to stdout, or to -o file', async () => {
    const png = readFileSync(join(LAYER, 'htdocs', 'logo.png'));
    const run = await invoke(['/cgi-bin/logo.cgi', ...endpoint]);
    expect(headers(run, 'Content-Type')).toEqual(['image/png']);
    expect(run.body.equals(png)).toBe(true);

    const file = join(tmp, 'logo.png');
    const saved = await invoke(['/cgi-bin/logo.cgi', '-o', file, ...endpoint]);
    expect(saved.head[0]).toBe('HTTP/1.1 200 OK');
    expect(saved.body.length).toBe(0);
    expect(readFileSync(file).equals(png)).toBe(true);
  });

  it('exits non-zero with the error when the function fails', async () => {
    const run = await invoke(['--payload', '{"not":"an HTTP event"}', ...endpoint]);
    expect(run.code).toBe(1);
    expect(run.stdout.length).toBe(0);
    expect(run.stderr).toContain('the function failed (Unhandled)');
    expect(run.stderr).toContain('lambda-cgi handles API Gateway, ALB and Function URL HTTP events');
  });

  it('exits non-zero when there is no such function', async () => {
    const run = await invoke(['/', '--function', 'no-such-function', ...endpoint]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Function not found: no-such-function');
  });

  it('explains itself with --help, and refuses a command line it cannot read', async () => {
    const help = await invoke(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout.toString('utf8')).toMatch(/^Usage: npm run invoke -- \[METHOD\] URL/);
    const bad = await invoke([]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('expected [METHOD] URL');
  });

  it('stops the server, leaving no process of its group behind', async () => {
    const pid = server!.pid;
    await server!.stop();
    expect(liveInGroups([pid])).toEqual([]);
  });
});
