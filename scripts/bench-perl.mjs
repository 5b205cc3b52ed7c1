// The Perl worker's part of `npm run bench`: the bundled handler with the worker
// against the same handler with CGI_PERL_WORKER=off and CGI_SPAWNER=off (plain spawn), side by side
// in one process, interleaved in random order; and Apache mod_cgi where apache2
// is installed. Also the worker's start-up time, its memory (PSS) and what a
// million requests cost at 1024 MB.
import { execFileSync, fork, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { get as httpGet } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist', 'handler.js');
const SERVER = join(root, 'dist', 'perl', 'lambda-cgi-worker.pl');
const GITWEB = '/usr/share/gitweb/gitweb.cgi';
const RUNS = Number(process.env.BENCH_PERL_RUNS ?? 200);
/** Lambda x86_64 prices, us-east-1: per GB-second and per request. */
const GB_SECOND = 0.0000166667;
const PER_REQUEST = 0.2 / 1e6;

const SCRIPTS = {
  'form.pl': `#!/usr/bin/perl
use strict;
use CGI qw(:standard);
print header, start_html(-title => 'Apply'), h1('Apply for ' . escapeHTML(param('job') // '')),
  start_form, textfield('name'), popup_menu('c', ['a', 'b', 'c']), checkbox_group('k', ['x', 'y']),
  textarea('letter', '', 5, 40), submit, end_form, end_html;
`,
  'hello.pl': `#!/usr/bin/perl
print "Content-Type: text/plain\\n\\nhello\\n";
`,
};

function git(cwd, ...args) {
  const date = '2020-02-03T04:05:06Z';
  execFileSync('git', args, {
    cwd,
    stdio: 'pipe',
    env: { PATH: process.env.PATH, HOME: cwd, GIT_AUTHOR_NAME: 'A', GIT_AUTHOR_EMAIL: 'a@example.com', GIT_AUTHOR_DATE: date, GIT_COMMITTER_NAME: 'A', GIT_COMMITTER_EMAIL: 'a@example.com', GIT_COMMITTER_DATE: date },
  });
}

function setUp() {
  const dir = mkdtempSync(join(tmpdir(), 'lambda-cgi-bench-perl-'));
  const bin = join(dir, 'cgi-bin');
  mkdirSync(bin);
  for (const [name, text] of Object.entries(SCRIPTS)) writeFileSync(join(bin, name), text, { mode: 0o755 });
  const hasGitweb = existsSync(GITWEB);
  if (hasGitweb) {
    copyFileSync(GITWEB, join(bin, 'gitweb.cgi'));
    const work = join(dir, 'work');
    mkdirSync(work);
    git(work, 'init', '-q', '-b', 'main');
    for (let i = 1; i <= 20; i++) {
      writeFileSync(join(work, `file${i % 5}.txt`), `change ${i}\n`.repeat(i));
      git(work, 'add', '.');
      git(work, 'commit', '-q', '-m', `Commit number ${i}`);
    }
    mkdirSync(join(dir, 'repos'));
    git(dir, 'clone', '-q', '--bare', work, join(dir, 'repos', 'project.git'));
    writeFileSync(join(dir, 'gitweb.conf'), `$projectroot = "${dir}/repos";\n`);
  }
  return { dir, bin, hasGitweb };
}

function event(path, query) {
  return {
    version: '2.0', routeKey: '$default', rawPath: path, rawQueryString: query,
    headers: { host: 'bench.example', 'user-agent': 'bench', accept: 'text/html' },
    requestContext: {
      domainName: 'bench.example', requestId: 'bench', stage: '$default',
      http: { method: 'GET', path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'bench' },
    },
    isBase64Encoded: false,
  };
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
const stats = (t) => {
  const s = [...t].sort((a, b) => a - b);
  return { p50: percentile(s, 0.5), p99: percentile(s, 0.99), mean: s.reduce((a, b) => a + b, 0) / s.length };
};

/** In a child process (its stdout, the access log, is captured per request for the runner check). */
async function child(dir, bin) {
  const require = createRequire(import.meta.url);
  const { createHandler } = require(bundle);
  const base = { CGI_ROOT: bin, CGI_ENV_GITWEB_CONFIG_SYSTEM: join(dir, 'gitweb.conf'), CGI_ENV_GITWEB_CONFIG: join(dir, 'none') };
  const make = (extra) => {
    Object.assign(process.env, base, extra);
    const h = createHandler({ eager: true });
    for (const k of Object.keys(extra)) delete process.env[k];
    return h;
  };
  const handlers = {
    spawn: make({ CGI_PERL_WORKER: 'off', CGI_SPAWNER: 'off' }),
    worker: make({ CGI_PERL_WORKER: 'on' }),
    precompiled: make({ CGI_PERL_WORKER: 'on', CGI_PERL_PRECOMPILE: 'gitweb.cgi' }),
  };
  let n = 0;
  const context = () => ({ awsRequestId: `bench-${n++}`, getRemainingTimeInMillis: () => 30_000 });
  // Let the workers start (as on Lambda, during init).
  await new Promise((r) => setTimeout(r, 1500));

  const write = process.stdout.write.bind(process.stdout);
  async function runnerOf(h, path, query) {
    let line = '';
    process.stdout.write = (s) => ((line += s), true);
    try {
      await h(event(path, query), context());
    } finally {
      process.stdout.write = write;
    }
    return JSON.parse(line.split('\n').find((l) => l.includes('"type":"access"'))).runner;
  }

  async function compare(name, path, query, modes, runs) {
    for (const m of modes) {
      const want = m === 'spawn' ? 'spawn' : 'perl-worker';
      const got = await runnerOf(handlers[m], path, query);
      if (got !== want) throw new Error(`${name}: ${m} was served by ${got}`);
    }
    const call = (m) => async () => {
      const r = await handlers[m](event(path, query), context());
      if (r.statusCode !== 200) throw new Error(`${name} (${m}): status ${r.statusCode}`);
    };
    const fns = modes.map(call);
    for (let i = 0; i < Math.max(10, runs / 10); i++) for (const f of fns) await f();
    const times = modes.map(() => []);
    for (let i = 0; i < runs; i++) {
      const order = modes.map((_, j) => j).sort(() => Math.random() - 0.5);
      for (const j of order) {
        const t = process.hrtime.bigint();
        await fns[j]();
        times[j].push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }
    return { name, runs, modes: Object.fromEntries(modes.map((m, j) => [m, stats(times[j])])) };
  }

  const results = [];
  results.push(await compare('CGI.pm form page', '/cgi-bin/form.pl', 'job=Perl+Developer', ['spawn', 'worker'], RUNS));
  results.push(await compare('script without modules', '/cgi-bin/hello.pl', '', ['spawn', 'worker'], RUNS * 2));
  if (existsSync(join(bin, 'gitweb.cgi'))) {
    results.push(await compare('gitweb summary', '/cgi-bin/gitweb.cgi', 'p=project.git;a=summary', ['spawn', 'worker', 'precompiled'], Math.max(30, RUNS / 4)));
  }
  process.send({ results, pss: workerMemory() });
}

/** PSS of every Perl worker process under this one (servers and zygotes), per server tree. */
function workerMemory() {
  const procs = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'latin1');
      procs.push({ pid: Number(name), ppid, worker: cmd.includes('lambda-cgi-worker.pl') });
    } catch {
      // gone
    }
  }
  const pss = (pid) => {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'));
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  };
  const servers = procs.filter((p) => p.worker && p.ppid === process.pid);
  return servers.map((s) => {
    const tree = [s, ...procs.filter((p) => p.ppid === s.pid && p.worker)];
    return { processes: tree.length, pssKiB: tree.reduce((a, p) => a + pss(p.pid), 0) };
  });
}

/** Spawn → READY of a bare server with the default preload list, median of `runs`. */
function startUp(preload, precompile, runs = 7) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'lambda-cgi-bench-start-'));
    const args = [SERVER, '--socket', join(dir, 's'), ...preload.flatMap((m) => ['--preload', m]), ...precompile.flatMap((f) => ['--precompile', f])];
    const script = `
      const { spawn } = require('node:child_process');
      const t = process.hrtime.bigint();
      const p = spawn('perl', ${JSON.stringify(args)}, { env: { PATH: process.env.PATH }, stdio: ['pipe', 'pipe', 'ignore'] });
      let out = '';
      p.stdout.on('data', (c) => { out += c; if (out.includes('READY')) { console.log(Number(process.hrtime.bigint() - t) / 1e6); p.stdin.end(); } });
    `;
    times.push(Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })));
    rmSync(dir, { recursive: true, force: true });
  }
  return stats(times).p50;
}

// --- Apache mod_cgi, where installed ------------------------------------------

function freePort() {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

async function apacheBench(dir, bin, cases, runs) {
  const httpd = ['/usr/sbin/apache2', '/usr/sbin/httpd'].find(existsSync);
  const modules = '/usr/lib/apache2/modules';
  if (!httpd || !existsSync(join(modules, 'mod_cgi.so'))) return undefined;
  const port = await freePort();
  const conf = join(dir, 'httpd.conf');
  const user = process.getuid?.() === 0 ? 'User nobody\nGroup nogroup\n' : '';
  writeFileSync(conf, `ServerRoot ${dir}
Listen 127.0.0.1:${port}
ServerName localhost
PidFile ${dir}/httpd.pid
ErrorLog ${dir}/error.log
${user}LoadModule mpm_prefork_module ${modules}/mod_mpm_prefork.so
LoadModule authz_core_module ${modules}/mod_authz_core.so
LoadModule alias_module ${modules}/mod_alias.so
LoadModule cgi_module ${modules}/mod_cgi.so
LoadModule env_module ${modules}/mod_env.so
SetEnv GITWEB_CONFIG_SYSTEM ${dir}/gitweb.conf
SetEnv GITWEB_CONFIG ${dir}/none
SetEnv GIT_CONFIG_COUNT 1
SetEnv GIT_CONFIG_KEY_0 safe.directory
SetEnv GIT_CONFIG_VALUE_0 *
KeepAlive Off
ScriptAlias /cgi-bin/ ${bin}/
<Directory ${bin}>
  Require all granted
</Directory>
`);
  spawnSync('chmod', ['-R', 'a+rX', dir]);
  const proc = spawn(httpd, ['-X', '-f', conf], { stdio: 'ignore', env: { PATH: process.env.PATH, APACHE_RUN_DIR: dir, APACHE_LOCK_DIR: dir } });
  try {
    // A fresh connection per request, as curl would: fetch's keep-alive stalls against a single-process Apache.
    const fetchStatus = (c) => new Promise((ok, bad) => {
      httpGet({ host: '127.0.0.1', port, path: `${c.path}${c.query ? `?${c.query}` : ''}`, agent: false }, (r) => {
        r.resume();
        r.on('end', () => ok(r.statusCode));
      }).on('error', bad);
    });
    for (let i = 0; i < 50; i++) {
      try {
        if ((await fetchStatus(cases[0])) === 200) break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const out = {};
    for (const c of cases) {
      const get = async () => {
        const status = await fetchStatus(c);
        if (status !== 200) throw new Error(`apache ${c.path}: ${status}`);
      };
      for (let i = 0; i < 10; i++) await get();
      const times = [];
      for (let i = 0; i < c.runs; i++) {
        const t = process.hrtime.bigint();
        await get();
        times.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      out[c.name] = stats(times);
    }
    return out;
  } catch (err) {
    return { error: err.message };
  } finally {
    proc.kill('SIGKILL');
  }
}

const costPerMillion = (ms) => 1e6 * (Math.ceil(ms) / 1000) * 1 * GB_SECOND + 1e6 * PER_REQUEST;

export async function benchPerlWorker() {
  if (spawnSync('perl', ['-MCGI', '-e', '1']).status !== 0) {
    console.log('\nPerl worker: skipped (perl with CGI.pm not installed; npm test installs it)');
    return;
  }
  const { dir, bin, hasGitweb } = setUp();
  try {
    const devnull = openSync('/dev/null', 'w');
    const proc = fork(fileURLToPath(import.meta.url), ['--perl-child', dir, bin], { stdio: ['ignore', devnull, 'inherit', 'ipc'], env: { PATH: process.env.PATH } });
    const report = await new Promise((resolve, reject) => {
      proc.on('message', resolve);
      proc.on('exit', (code) => code !== 0 && reject(new Error(`perl bench child exited with ${code}`)));
    });
    proc.disconnect();
    const require = createRequire(import.meta.url);
    const preload = require(bundle).DEFAULT_PERL_PRELOAD;

    const fmt = (n) => n.toFixed(2).padStart(7);
    console.log('\nPerl worker (p50/p99 ms through the bundled handler; ratio = p50 / plain spawn p50)');
    console.log('case                      plain spawn p50/p99    worker p50/p99   ratio   precompiled p50/p99   ratio   target');
    const targets = { 'CGI.pm form page': [0.3], 'gitweb summary': [0.6, 0.4] };
    for (const r of report.results) {
      const s = r.modes.spawn;
      const w = r.modes.worker;
      const p = r.modes.precompiled;
      const t = targets[r.name];
      let verdict;
      if (r.name === 'script without modules') {
        const d = w.p50 - s.p50;
        verdict = `worker - spawn = ${d >= 0 ? '+' : ''}${d.toFixed(2)} ms (<= +0.5 ${d <= 0.5 ? 'ok' : 'MISSED'})`;
      } else {
        verdict = `<= ${t[0]} ${w.p50 / s.p50 <= t[0] ? 'ok' : 'MISSED'}`;
        if (p) verdict += `; precompiled <= ${t[1]} ${p.p50 / s.p50 <= t[1] ? 'ok' : 'MISSED'}`;
      }
      console.log(
        `${r.name.padEnd(24)} ${fmt(s.p50)} /${fmt(s.p99)}   ${fmt(w.p50)} /${fmt(w.p99)}   ${(w.p50 / s.p50).toFixed(2)}` +
          (p ? `   ${fmt(p.p50)} /${fmt(p.p99)}        ${(p.p50 / s.p50).toFixed(2)}` : '                               ') +
          `    ${verdict}`,
      );
    }
    const apache = await apacheBench(dir, bin, [
      { name: 'CGI.pm form page', path: '/cgi-bin/form.pl', query: 'job=Perl+Developer', runs: RUNS },
      { name: 'script without modules', path: '/cgi-bin/hello.pl', query: '', runs: RUNS },
      ...(hasGitweb ? [{ name: 'gitweb summary', path: '/cgi-bin/gitweb.cgi', query: 'p=project.git;a=summary', runs: Math.max(30, RUNS / 4) }] : []),
    ], RUNS);
    if (apache === undefined) console.log('Apache mod_cgi: not installed, not compared');
    else if (apache.error) console.log(`Apache mod_cgi: could not be measured (${apache.error})`);
    else {
      console.log('Apache mod_cgi over loopback HTTP (a fresh connection per request; tiny answers can hit a 40 ms delayed-ACK stall), same scripts: p50/p99 ms, and the worker\'s p50 as a ratio of it');
      for (const r of report.results) {
        const a = apache[r.name];
        if (a) console.log(`  ${r.name.padEnd(24)} ${fmt(a.p50)} /${fmt(a.p99)}   worker ${(r.modes.worker.p50 / a.p50).toFixed(2)}x${r.modes.precompiled ? `, precompiled ${(r.modes.precompiled.p50 / a.p50).toFixed(2)}x` : ''}`);
      }
    }
    const start = startUp(preload, []);
    const startZ = hasGitweb ? startUp(preload, [join(bin, 'gitweb.cgi')]) : undefined;
    console.log(`worker start-up (spawn -> READY, default preload of ${preload.length} modules, median of 7): ${start.toFixed(1)} ms (<= 80 ${start <= 80 ? 'ok' : 'MISSED'})` +
      (startZ !== undefined ? `; with the gitweb zygote ${startZ.toFixed(1)} ms (the zygote reports on its own, after READY)` : ''));
    const [plainPss, zygotePss] = report.pss;
    if (plainPss) console.log(`worker memory (PSS): ${(plainPss.pssKiB / 1024).toFixed(1)} MiB (1 process)${zygotePss ? `; with the gitweb zygote ${(zygotePss.pssKiB / 1024).toFixed(1)} MiB (${zygotePss.processes} processes)` : ''}`);
    console.log('cost per million requests at 1024 MB (x86_64, billed duration = p50 rounded up to 1 ms, plus $0.20 per million requests):');
    for (const r of report.results) {
      const parts = Object.entries(r.modes).map(([m, s]) => `${m} $${costPerMillion(s.p50).toFixed(2)}`);
      console.log(`  ${r.name.padEnd(24)} ${parts.join(', ')}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--perl-child') await child(process.argv[3], process.argv[4]);
else if (process.argv[1] === fileURLToPath(import.meta.url)) await benchPerlWorker();
