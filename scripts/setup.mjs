// Installs the Debian packages the example site and the tests need, when they are
// missing: npm start needs Perl and a C compiler, npm test also Chromium.
// Run by `npm start` (--for=start) and `npm test` (--for=test); safe to run again.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const PACKAGES = {
  start: [
    { command: 'perl', pkg: 'perl', why: 'runs the example Perl CGI scripts' },
    { command: 'cc', pkg: 'gcc', why: 'builds the example C CGI program' },
    { command: 'make', pkg: 'make', why: 'builds the example C CGI program' },
    { check: 'perl -MDBD::SQLite -e 1', pkg: 'libdbd-sqlite3-perl', why: 'the example portal\'s database (DBI, DBD::SQLite)' },
  ],
  test: [
    { command: 'bash', pkg: 'bash', why: 'Shellshock test script' },
    { command: 'chromium', pkg: 'chromium', why: 'browser test (playwright-core drives it)' },
    { command: 'htpasswd', pkg: 'apache2-utils', why: 'site tests make password files in every hash format' },
    { command: 'unzip', pkg: 'unzip', why: 'unpacks the packaged layer as Lambda does (writable links)' },
    { command: 'sqlite3', pkg: 'sqlite3', why: 'reads the example portal\'s database in its tests' },
    { command: 'unshare', pkg: 'util-linux', why: 'read-only bind mount for the EROFS diagnosis test' },
    { file: '/usr/share/perl5/CGI.pm', pkg: 'libcgi-pm-perl', why: 'CGI.pm scripts in the Perl worker tests and bench' },
    { command: 'git', pkg: 'git', why: 'gitweb pages in the Perl worker tests and bench' },
    { file: '/usr/share/gitweb/gitweb.cgi', pkg: 'gitweb', why: 'gitweb pages in the Perl worker tests and bench' },
    { command: 'aarch64-linux-gnu-gcc', pkg: 'gcc-aarch64-linux-gnu', why: 'builds the arm64 exec-wrapper layer; site checker test: an arm64 program' },
    { command: 'aarch64-linux-gnu-gcc', pkg: 'libc6-dev-arm64-cross', why: 'arm64 C library headers for the wrapper layer' },
  ],
};

const target = (process.argv.find((a) => a.startsWith('--for=')) ?? '--for=test').slice('--for='.length);
const wanted = target === 'start' ? PACKAGES.start : [...PACKAGES.start, ...PACKAGES.test];
const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
const present = (p) => (p.check ? spawnSync('sh', ['-c', p.check], { stdio: 'ignore' }).status === 0 : p.file !== undefined ? existsSync(p.file) : has(p.command));
const missing = wanted.filter((p) => !present(p));

if (missing.length === 0) process.exit(0);

const pkgs = [...new Set(missing.map((p) => p.pkg))];
console.log(`setup: installing ${pkgs.join(', ')} (${missing.map((p) => `${p.command ?? p.check ?? p.file}: ${p.why}`).join('; ')})`);
const isRoot = process.getuid?.() === 0;
const sudo = isRoot ? [] : has('sudo') ? ['sudo', '-n'] : undefined;
if (sudo === undefined || !has('apt-get')) {
  console.error(`setup: cannot install ${pkgs.join(' ')} here (needs apt-get and root or sudo). Install them, then run again.`);
  process.exit(1);
}
const run = (args) => {
  const [cmd, ...rest] = [...sudo, ...args];
  execFileSync(cmd, rest, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
};
try {
  run(['apt-get', 'install', '-y', '--no-install-recommends', ...pkgs]);
} catch {
  // A fresh machine has no package lists yet.
  run(['apt-get', 'update']);
  run(['apt-get', 'install', '-y', '--no-install-recommends', ...pkgs]);
}
const still = missing.filter((p) => !present(p));
if (still.length > 0) {
  console.error(`setup: still missing after install: ${still.map((p) => p.command ?? p.check ?? p.file).join(', ')}`);
  process.exit(1);
}
