/**
 * CGI_WRITABLE end to end: a real site tree is packaged by the real packager
 * (scripts/writable-layer.js, the code the serverless plugin runs), unzipped as
 * Lambda unpacks a layer, and served by the bundled handler in processes of
 * their own, each one Lambda instance, sharing one "mount" directory.
 *
 * The handler reads the layer from CGI_OFFLINE_LAYER_DIR (IS_OFFLINE) because
 * there is no /opt to unpack into here; the links it follows are the packaged ones.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { httpApiEvent } from './support/events';
import { runHandlerProcess } from './support/handler-process';
import { REPO } from './support/offline';
import { cleanup, makeTree } from './support/site';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { layerEntries, parseWritable, writeZip, SEED_DIR } = require('../scripts/writable-layer.js');

const COUNTER_SH = `#!/bin/sh
# A classic hit counter: reads and rewrites data/count.txt next to itself.
n=$(cat data/count.txt)
n=$((n + 1))
echo "$n" > data/count.txt.new && mv data/count.txt.new data/count.txt || exit 1
date >> logs/hits.log || exit 1
printf 'Content-Type: text/plain\\n\\n%s\\n' "$n"
`;

function filesBelow(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/** The site packaged with CGI_WRITABLE=cgi-bin/data,cgi-bin/logs linked into `dataDir`, then unzipped. */
async function packageAndUnzip(site: string, dataDir: string, into: string, writable = ['cgi-bin/data', 'cgi-bin/logs']): Promise<string> {
  const zip = join(into, 'site.zip');
  await writeZip(layerEntries(site, filesBelow(site), writable, dataDir), zip);
  const layer = join(into, 'opt');
  execFileSync('unzip', ['-q', zip, '-d', layer]);
  return layer;
}

const get = (path: string) => httpApiEvent({ path });
const envFor = (layer: string) => ({ IS_OFFLINE: 'true', CGI_OFFLINE_LAYER_DIR: layer, CGI_WRITABLE: 'cgi-bin/data,cgi-bin/logs', CGI_LOG_FORMAT: 'json' });

describe('CGI_WRITABLE: writable site directories on a durable mount', () => {
  let site: string;
  let work: string;
  let mount: string;
  let layer: string;

  beforeAll(async () => {
    site = makeTree({
      'cgi-bin/counter.sh': COUNTER_SH,
      'cgi-bin/data/count.txt': { content: '41\n', mode: 0o644 },
      'cgi-bin/data/motd/today.txt': { content: 'hello\n', mode: 0o644 },
      'htdocs/index.html': { content: '<p>hi</p>', mode: 0o644 },
    });
    mkdirSync(join(site, 'cgi-bin/logs'));
    work = mkdtempSync(join(tmpdir(), 'lambda-cgi-writable-'));
    mount = join(work, 'mnt');
    mkdirSync(mount);
    layer = await packageAndUnzip(site, mount, work);
  });

  afterAll(() => cleanup(site, work));

  it('packaging made each writable directory a symlink into the mount and kept its files as the seed', () => {
    for (const d of ['cgi-bin/data', 'cgi-bin/logs']) {
      expect(lstatSync(join(layer, d)).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(layer, d))).toBe(join(mount, d));
    }
    expect(readFileSync(join(layer, SEED_DIR, 'cgi-bin/data/count.txt'), 'utf8')).toBe('41\n');
    expect(existsSync(join(layer, SEED_DIR, 'cgi-bin/data/motd/today.txt'))).toBe(true);
    // Nothing is on the mount before the first start.
    expect(readdirSync(mount)).toEqual([]);
  });

  it('the first instance seeds the mount once; a second instance finds the data the first one wrote', async () => {
    const first = await runHandlerProcess(envFor(layer), [get('/cgi-bin/counter.sh')]);
    expect(first.answers.map((a) => [a.status, a.body.toString()])).toEqual([[200, '42\n']]);
    expect(readFileSync(join(mount, 'cgi-bin/data/count.txt'), 'utf8')).toBe('42\n');
    expect(readFileSync(join(mount, 'cgi-bin/data/motd/today.txt'), 'utf8')).toBe('hello\n');
    expect(readFileSync(join(mount, 'cgi-bin/logs/hits.log'), 'utf8').split('\n').filter(Boolean)).toHaveLength(1);
    // A durable mount: no per-instance warning.
    expect(first.stderr).not.toContain('lost');

    const second = await runHandlerProcess(envFor(layer), [get('/cgi-bin/counter.sh')]);
    expect(second.answers.map((a) => a.body.toString())).toEqual(['43\n']);
    expect(readFileSync(join(mount, 'cgi-bin/logs/hits.log'), 'utf8').split('\n').filter(Boolean)).toHaveLength(2);
    // The seed in the layer is untouched.
    expect(readFileSync(join(layer, SEED_DIR, 'cgi-bin/data/count.txt'), 'utf8')).toBe('41\n');
  }, 30_000);

  it('the routing guards refuse to serve or run anything through the links', async () => {
    writeFileSync(join(mount, 'cgi-bin/data/evil.sh'), '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\nran\\n"\n');
    chmodSync(join(mount, 'cgi-bin/data/evil.sh'), 0o755);
    const run = await runHandlerProcess(envFor(layer), [get('/cgi-bin/data/count.txt'), get('/cgi-bin/data/evil.sh')]);
    expect(run.answers.map((a) => a.status)).toEqual([403, 403]);
    expect(run.answers.map((a) => a.body.toString()).join('')).not.toContain('ran');
    expect(run.stderr).toMatch(/resolves outside (CGI_ROOT|its root)/);
  }, 30_000);

  it('instances starting together on an empty mount seed it exactly once, never half', async () => {
    const target = join(work, 'race', 'cgi-bin', 'data');
    const seed = join(layer, SEED_DIR, 'cgi-bin/data');
    const code = `const { seedDirectory } = require(${JSON.stringify(join(REPO, 'handler/writable.ts'))});
      process.stdout.write(seedDirectory(process.argv[1], process.argv[2]));`;
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '-e', code, target, seed], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.on('error', reject);
      child.on('close', (c) => (c === 0 ? resolve(out) : reject(new Error(`seeding process exited with ${c}`))));
    })));
    expect(outcomes.filter((o) => o === 'seeded')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'present')).toHaveLength(7);
    expect(filesBelow(target)).toEqual(['count.txt', 'motd/today.txt']);
    // No staging directory left behind.
    expect(readdirSync(join(work, 'race', 'cgi-bin'))).toEqual(['data']);
  }, 60_000);

  it('without a mount the links go to /tmp/lambda-cgi, it works, and the start warns that the data is per instance', async () => {
    const scratch = join('/tmp/lambda-cgi', `jest-${process.pid}-${Date.now()}`);
    const dir = mkdtempSync(join(tmpdir(), 'lambda-cgi-nomount-'));
    try {
      const tmpLayer = await packageAndUnzip(site, scratch, dir);
      const run = await runHandlerProcess(envFor(tmpLayer), [get('/cgi-bin/counter.sh')]);
      expect(run.answers[0].body.toString()).toBe('42\n');
      const warnings = run.stderr.split('\n').filter((l) => l.includes('"level":"warn"')).map((l) => JSON.parse(l).message);
      expect(warnings).toEqual([expect.stringMatching(/^CGI_WRITABLE cgi-bin\/data, cgi-bin\/logs are in \/tmp\/lambda-cgi: no durable mount is configured, so what scripts write there belongs to this instance and is lost when it ends; mount EFS/)]);
    } finally {
      cleanup(dir, scratch);
    }
  }, 30_000);

  it('locally (serverless-offline) a writable directory missing from the layer becomes a link into the git-ignored data directory', async () => {
    const local = makeTree({ 'layers/cgi-bin/counter.sh': COUNTER_SH, 'layers/htdocs/index.html': { content: 'home', mode: 0o644 } });
    try {
      // The example site's layout: nothing checked in, the script creates what it needs.
      const env = { IS_OFFLINE: 'true', CGI_OFFLINE_LAYER_DIR: join(local, 'layers'), CGI_WRITABLE: 'cgi-bin/data,cgi-bin/logs', CGI_DATA_DIR: join(local, '.data') };
      const run = await runHandlerProcess(env, [httpApiEvent({ path: '/cgi-bin/nothing' })]);
      expect(run.answers[0].status).toBe(404);
      for (const d of ['cgi-bin/data', 'cgi-bin/logs']) {
        expect(readlinkSync(join(local, 'layers', d))).toBe(join(local, '.data', d));
        expect(lstatSync(join(local, '.data', d)).isDirectory()).toBe(true);
      }
      writeFileSync(join(local, '.data/cgi-bin/data/count.txt'), '6\n');
      const again = await runHandlerProcess(env, [get('/cgi-bin/counter.sh')]);
      expect(again.answers[0].body.toString()).toBe('7\n');
      expect(readFileSync(join(local, '.data/cgi-bin/data/count.txt'), 'utf8')).toBe('7\n');
      expect(again.stderr).not.toContain('CGI_WRITABLE');
    } finally {
      rmSync(local, { recursive: true, force: true });
    }
  }, 30_000);

  it('a CGI_WRITABLE entry that leaves the layer is a configuration error: 500 and a log line', async () => {
    const run = await runHandlerProcess({ ...envFor(layer), CGI_WRITABLE: 'cgi-bin/../../etc' }, [get('/cgi-bin/counter.sh')]);
    expect(run.answers[0].status).toBe(500);
    expect(run.stderr).toContain('CGI_WRITABLE entry \\"cgi-bin/../../etc\\" must be a directory relative to the site layer');
  }, 30_000);

  it('a writable directory inside the document root is served on purpose, but nothing its links lead out to', async () => {
    const docs = makeTree({
      'htdocs/index.html': { content: 'home', mode: 0o644 },
      'htdocs/graphs/today.svg': { content: '<svg>seed</svg>', mode: 0o644 },
      'cgi-bin/draw.sh': `#!/bin/sh\nprintf '<svg>%s</svg>' "$QUERY_STRING" > ../htdocs/graphs/new.svg || exit 1\nprintf 'Content-Type: text/plain\\n\\ndrawn\\n'\n`,
    });
    const dir = mkdtempSync(join(tmpdir(), 'lambda-cgi-docs-'));
    try {
      const docsLayer = await packageAndUnzip(docs, join(dir, 'mnt'), dir, ['htdocs/graphs']);
      const env = { ...envFor(docsLayer), CGI_WRITABLE: 'htdocs/graphs' };
      const first = await runHandlerProcess(env, [get('/graphs/today.svg')]);
      expect([first.answers[0].status, first.answers[0].body.toString()]).toEqual([200, '<svg>seed</svg>']);
      const drawn = await runHandlerProcess(env, [httpApiEvent({ path: '/cgi-bin/draw.sh', query: 'fresh' })]);
      expect(drawn.answers[0].status).toBe(200);
      symlinkSync('/etc/passwd', join(dir, 'mnt/htdocs/graphs/passwd.svg'));
      const run = await runHandlerProcess(env, [get('/graphs/new.svg'), get('/graphs/passwd.svg')]);
      expect(run.answers.map((a) => [a.status, a.status === 200 ? a.body.toString() : ''])).toEqual([[200, '<svg>fresh</svg>'], [403, '']]);
    } finally {
      cleanup(docs, dir);
    }
  }, 30_000);

  it('the packager and the handler accept and refuse the same CGI_WRITABLE entries', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { loadConfig } = require('../handler/config');
    expect(parseWritable('cgi-bin/data/, htdocs/graphs')).toEqual(loadConfig({ CGI_WRITABLE: 'cgi-bin/data/, htdocs/graphs' }).writable);
    for (const bad of ['/opt/cgi-bin/data', 'cgi-bin/../..', './data', 'cgi-bin//data', '.lambda-cgi/seed']) {
      expect(() => parseWritable(bad)).toThrow(/must be a directory relative to the site layer/);
      expect(() => loadConfig({ CGI_WRITABLE: bad })).toThrow(/must be a directory relative to the site layer/);
    }
  });
});
