// Installs the Debian packages the example site and the tests need, when they are
// missing: npm start needs Perl and a C compiler, npm test also Chromium.
// Run by `npm start` (--for=start) and `npm test` (--for=test); safe to run again.
import { execFileSync, spawnSync } from 'node:child_process';

const PACKAGES = {
  start: [
    { command: 'perl', pkg: 'perl', why: 'runs the example Perl CGI scripts' },
    { command: 'cc', pkg: 'gcc', why: 'builds the example C CGI program' },
    { command: 'make', pkg: 'make', why: 'builds the example C CGI program' },
  ],
  test: [
    { command: 'bash', pkg: 'bash', why: 'Shellshock test script' },
    { command: 'chromium', pkg: 'chromium', why: 'browser test (playwright-core drives it)' },
    { command: 'aarch64-linux-gnu-gcc', pkg: 'gcc-aarch64-linux-gnu', why: 'builds the arm64 exec-wrapper layer; site checker test: an arm64 program' },
    { command: 'aarch64-linux-gnu-gcc', pkg: 'libc6-dev-arm64-cross', why: 'arm64 C library headers for the wrapper layer' },
  ],
};

const target = (process.argv.find((a) => a.startsWith('--for=')) ?? '--for=test').slice('--for='.length);
const wanted = target === 'start' ? PACKAGES.start : [...PACKAGES.start, ...PACKAGES.test];
const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
const missing = wanted.filter((p) => !has(p.command));

if (missing.length === 0) process.exit(0);

const pkgs = [...new Set(missing.map((p) => p.pkg))];
console.log(`setup: installing ${pkgs.join(', ')} (${missing.map((p) => `${p.command}: ${p.why}`).join('; ')})`);
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
const still = missing.filter((p) => !has(p.command));
if (still.length > 0) {
  console.error(`setup: still missing after install: ${still.map((p) => p.command).join(', ')}`);
  process.exit(1);
}
