/**
 * npm run check-site: a real layer folder on disk with one of each problem
 * (real scripts, C programs compiled here for x86_64 and arm64, real .htaccess
 * files), checked by the real command line; the example site checks clean; the
 * build plugin fails `serverless package` on errors.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, cpSync, mkdirSync, openSync, symlinkSync, ftruncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readElf, EM_AARCH64, EM_X86_64, highestVersion } from '../scripts/check/elf';
import type { CheckReport as Report, Finding } from '../scripts/check/site';
import { REPO, childEnv } from './support/offline';
import { cleanup, makeTree } from './support/site';

const PERL_LAYER = 'arn:aws:lambda:us-east-1:445285296882:layer:perl-5-42-runtime-al2023-x86_64:3';

function checkSite(args: string[], env: Record<string, string> = {}) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'scripts', 'check-site.ts'), ...args], {
    cwd: REPO,
    env: childEnv(env),
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function json(args: string[], env: Record<string, string> = {}): { status: number | null; report: Report } {
  const run = checkSite([...args, '--json'], env);
  return { status: run.status, report: JSON.parse(run.stdout) as Report };
}

const C_GOOD = '#include <stdio.h>\nint main(void) { printf("Content-Type: text/plain\\n\\nok\\n"); return 0; }\n';
// arc4random() arrived in glibc 2.36 (Debian 12 has it, Amazon Linux 2023's 2.34 does not).
const C_NEW_GLIBC = '#include <stdio.h>\n#include <stdlib.h>\nint main(void) { printf("%u\\n", arc4random()); return 0; }\n';
const C_LIBCRYPT = '#include <crypt.h>\n#include <stdio.h>\nint main(void) { puts(crypt("pw", "ab")); return 0; }\n';
// Needs no arm64 C library: the cross compiler alone builds it.
const C_ARM = 'void _start(void) { for (;;) {} }\n';

function compile(cc: string, source: string, out: string, flags: string[]): void {
  writeFileSync(`${out}.c`, source);
  execFileSync(cc, ['-o', out, `${out}.c`, ...flags], { stdio: 'pipe' });
  cleanup(`${out}.c`);
}

let root: string;
let layer: string;
let report: Report;
let status: number | null;
const ENV = { CGI_WRITABLE: 'cgi-bin/db' };

/** The one finding of that check about that file (relative to the layer). */
function finding(list: Finding[], check: string, file: string): Finding {
  const hits = list.filter((f) => f.check === check && (f.file === join(layer, file) || f.also?.includes(join(layer, file))));
  if (hits.length !== 1) throw new Error(`expected one ${check} finding for ${file}, got ${JSON.stringify(hits)} in ${JSON.stringify(list, null, 1)}`);
  return hits[0];
}

beforeAll(() => {
  root = makeTree({
    'layer/cgi-bin/ok.pl': '#!/usr/bin/perl\nprint "Content-Type: text/plain\\n\\nok\\n";\n',
    'layer/cgi-bin/ok.sh': "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nok\\n'\n",
    'layer/cgi-bin/noexec.pl': { content: '#!/usr/bin/perl\nprint "Content-Type: text/plain\\n\\n";\n', mode: 0o644 },
    'layer/cgi-bin/crlf.sh': "#!/bin/sh\r\nprintf 'Content-Type: text/plain\\r\\n\\r\\nok'\r\n",
    'layer/cgi-bin/python.cgi': '#!/usr/bin/python\nprint("Content-Type: text/plain\\n")\n',
    'layer/cgi-bin/ruby.cgi': '#!/usr/local/bin/ruby\nputs "Content-Type: text/plain\\n\\n"\n',
    'layer/cgi-bin/php.cgi': '#!/usr/bin/php-cgi\n<?php echo "ok"; ?>\n',
    'layer/cgi-bin/writes.pl':
      '#!/usr/bin/perl\nopen(F, ">data.txt");\nopen my $fh, \'>>\', \'db/log.txt\';\nopen(T, ">/tmp/x");\nopen my $v, \'>>\', $file;\n',
    'layer/cgi-bin/writes.sh': '#!/bin/sh\necho hit >> counter.txt\necho log >&2\necho x > /dev/null\n',
    'layer/cgi-bin/lib/Module.pm': { content: 'package Module;\n1;\n', mode: 0o644 },
    'layer/cgi-bin/data/jobs.txt': { content: 'a|b\n', mode: 0o644 },
    'layer/cgi-bin/db/.keep': { content: '', mode: 0o644 },
    'layer/htdocs/index.html': { content: '<p>home</p>\n', mode: 0o644 },
    'layer/htdocs/.htaccess': {
      content: 'AuthType Basic\nAuthName "x"\nAuthUserFile /opt/etc/missing-htpasswd\nRequire valid-user\nRewriteEngine On\n',
      mode: 0o644,
    },
    'layer/htdocs/old/.htaccess': { content: 'AuthType Basic\nAuthName "old"\nAuthUserFile /etc/apache2/.htpasswd\nRequire valid-user\n', mode: 0o644 },
    'layer/htdocs/scripts/.htaccess': { content: 'Options +ExecCGI\nAddHandler cgi-script .cgi\n', mode: 0o644 },
    'layer/htdocs/scripts/run.cgi': { content: '#!/bin/sh\necho\n', mode: 0o644 },
    'layer/htdocs/scripts/page.html': { content: 'x\n', mode: 0o644 },
    'layer/etc/httpd.conf': { content: 'ScriptAlias /tools/ /opt/tools/\nRedirect /a /b\nBogusDirective x\n', mode: 0o644 },
    'layer/tools/tool.cgi': { content: '#!/bin/sh\necho\n', mode: 0o644 },
    'layer/cgi-src/big.c': { content: 'not packaged\n', mode: 0o644 },
  });
  layer = join(root, 'layer');
  compile('cc', C_GOOD, join(layer, 'cgi-bin', 'good.cgi'), ['-O2']);
  compile('cc', C_NEW_GLIBC, join(layer, 'cgi-bin', 'new-glibc.cgi'), ['-O2']);
  compile('cc', C_LIBCRYPT, join(layer, 'cgi-bin', 'crypt.cgi'), ['-O2', '-lcrypt']);
  compile('aarch64-linux-gnu-gcc', C_ARM, join(layer, 'cgi-bin', 'arm.cgi'), ['-nostdlib', '-static']);
  // 251 MB, sparse: the apparent size is what Lambda counts once unzipped.
  const fd = openSync(join(layer, 'htdocs', 'big.iso'), 'w');
  ftruncateSync(fd, 251 * 1024 * 1024);
  closeSync(fd);
  ({ status, report } = json([layer], { ...ENV, CGI_CONFIG: '/opt/etc/httpd.conf' }));
}, 60_000);
afterAll(() => cleanup(root));

describe('ELF headers, read in code', () => {
  it('machine, needed libraries and glibc versions of programs compiled here', () => {
    const good = readElf(join(layer, 'cgi-bin', 'good.cgi'))!;
    expect(good.machine).toBe(EM_X86_64);
    expect(good.needed).toEqual(['libc.so.6']);
    expect(highestVersion(good, 'GLIBC')!.name).toBe('GLIBC_2.34');
    expect(highestVersion(readElf(join(layer, 'cgi-bin', 'new-glibc.cgi'))!, 'GLIBC')!.name).toBe('GLIBC_2.36');
    expect(readElf(join(layer, 'cgi-bin', 'crypt.cgi'))!.needed).toContain('libcrypt.so.1');
    const arm = readElf(join(layer, 'cgi-bin', 'arm.cgi'))!;
    expect(arm.machine).toBe(EM_AARCH64);
    expect(arm.needed).toEqual([]);
    expect(readElf(join(layer, 'cgi-bin', 'ok.sh'))).toBeUndefined();
  });
});

describe('a layer with one of each problem', () => {
  it('exits 1 with errors', () => {
    expect(status).toBe(1);
    expect(report.errors.every((f) => f.level === 'error')).toBe(true);
    expect(report.warnings.every((f) => f.level === 'warning')).toBe(true);
  });

  it('a script without its exec bit in the CGI directory', () => {
    const f = finding(report.errors, 'exec-bit', 'cgi-bin/noexec.pl');
    expect(f.message).toMatch(/not executable: it would answer 403/);
    expect(f.fix).toMatch(/^chmod \+x .*cgi-bin\/noexec\.pl$/);
  });

  it('a .cgi file under AddHandler cgi-script with ExecCGI, and a ScriptAlias directory, without exec bits', () => {
    expect(finding(report.errors, 'exec-bit', 'htdocs/scripts/run.cgi').message).toMatch(/AddHandler cgi-script \.cgi with Options ExecCGI/);
    expect(finding(report.errors, 'exec-bit', 'tools/tool.cgi').fix).toMatch(/^chmod \+x /);
    // Static pages beside them are not programs.
    expect(JSON.stringify(report)).not.toContain('page.html');
  });

  it('a shebang ending in CR', () => {
    const f = finding(report.errors, 'crlf', 'cgi-bin/crlf.sh');
    expect(f.line).toBe(1);
    expect(f.message).toMatch(/Windows line endings.*`\/bin\/sh\\r`/);
    expect(f.fix).toMatch(/sed -i 's\/\\r\$\/\/' .*crlf\.sh \(or dos2unix\)/);
  });

  it('interpreters Lambda\'s image lacks, with the layer to add', () => {
    const py = finding(report.errors, 'interpreter', 'cgi-bin/python.cgi');
    expect(py.message).toMatch(/\/usr\/bin\/python does not exist on Lambda's Amazon Linux 2023 Node.js image, and CGI_INTERPRETERS does not remap it/);
    expect(py.fix).toMatch(/no Python: add a layer with Python at \/opt\/bin\/python3 and CGI_INTERPRETERS=\/usr\/bin\/python=\/opt\/bin\/python3/);
    const rb = finding(report.errors, 'interpreter', 'cgi-bin/ruby.cgi');
    expect(rb.message).toMatch(/nothing in \/usr\/local/);
    expect(rb.fix).toMatch(/layers\/bin\/ruby/);
    expect(finding(report.errors, 'interpreter', 'cgi-bin/php.cgi').fix).toMatch(/no PHP: add a layer that provides \/opt\/bin\/php-cgi/);
  });

  it('Perl remapped to /opt/bin/perl with no Perl layer: one warning naming every Perl script', () => {
    const f = finding(report.warnings, 'interpreter', 'cgi-bin/ok.pl');
    expect(f.message).toMatch(/remapped to \/opt\/bin\/perl, which no layer given to the checker provides/);
    expect(f.fix).toMatch(/perlLayer=<arn>/);
    expect(report.warnings.filter((w) => w.check === 'interpreter')).toHaveLength(1);
  });

  it('compiled programs: wrong architecture, a glibc newer than 2.34, a library AL2023 lacks; a good one passes', () => {
    const arm = finding(report.errors, 'architecture', 'cgi-bin/arm.cgi');
    expect(arm.message).toBe('built for arm64 (aarch64), but the function is x86_64');
    expect(arm.fix).toMatch(/--param="architecture=arm64"/);
    const glibc = finding(report.errors, 'glibc', 'cgi-bin/new-glibc.cgi');
    expect(glibc.message).toMatch(/needs GLIBC_2\.36, newer than Lambda's glibc 2\.34/);
    expect(glibc.fix).toMatch(/-static/);
    const lib = finding(report.warnings, 'library', 'cgi-bin/crypt.cgi');
    expect(lib.message).toMatch(/needs libcrypt\.so\.1/);
    expect(lib.fix).toMatch(/layers\/lib\//);
    expect(JSON.stringify(report)).not.toContain('good.cgi');
  });

  it('.htaccess and CGI_CONFIG directives the handler does not support, with their lines', () => {
    const rewrite = report.errors.find((f) => f.check === 'htaccess' && f.file.endsWith('htdocs/.htaccess'));
    expect(rewrite).toMatchObject({ line: 5 });
    expect(rewrite!.message).toMatch(/^RewriteEngine: .*the handler answers 500 for this directory$/);
    const bogus = report.errors.find((f) => f.check === 'htaccess' && f.file.endsWith('etc/httpd.conf'));
    expect(bogus).toMatchObject({ line: 3 });
    expect(bogus!.message).toMatch(/^BogusDirective: /);
  });

  it('AuthUserFile paths missing from the tree, or outside it', () => {
    const missing = report.errors.find((f) => f.check === 'auth-file' && f.file.endsWith('htdocs/.htaccess'))!;
    expect(missing.line).toBe(3);
    expect(missing.message).toMatch(/AuthUserFile \/opt\/etc\/missing-htpasswd does not exist in the layer/);
    expect(missing.fix).toMatch(/htpasswd -c .*etc\/missing-htpasswd USER/);
    const outside = report.errors.find((f) => f.check === 'auth-file' && f.file.endsWith('old/.htaccess'))!;
    expect(outside.message).toMatch(/\/etc\/apache2\/\.htpasswd is outside the layer/);
    expect(outside.fix).toMatch(/AuthUserFile \/opt\/etc\/\.htpasswd/);
  });

  it('writes into the read-only layer, except into CGI_WRITABLE directories, /tmp, or a variable name', () => {
    const writes = report.warnings.filter((f) => f.check === 'writes');
    expect(writes.map((f) => [f.file.split('/').slice(-2).join('/'), f.line])).toEqual([
      ['cgi-bin/writes.pl', 2],
      ['cgi-bin/writes.sh', 2],
    ]);
    expect(writes[0].message).toBe('writes data.txt (>), inside the layer, which is read-only on Lambda (/opt/cgi-bin/data.txt)');
    expect(writes[0].fix).toMatch(/^declare its directory writable: CGI_WRITABLE=cgi-bin \(README: Writable data\), or write under \/tmp$/);
    expect(writes[1].message).toMatch(/^writes counter\.txt \(>>\)/);
  });

  it('the layer\'s unzipped size against 250 MB (cgi-src, left out of the layer, not counted)', () => {
    const f = report.errors.find((e) => e.check === 'size')!;
    expect(f.message).toMatch(/^the layer is 251\.0 MB unzipped; Lambda allows 250 MB/);
    expect(report.layerBytes).toBeGreaterThan(251 * 1024 * 1024);
  });

  it('nothing about modules, data files or scripts that are fine', () => {
    const text = JSON.stringify(report);
    for (const quiet of ['Module.pm', 'jobs.txt', 'ok.sh', 'index.html', 'big.c']) expect(text).not.toContain(quiet);
  });

  it('text output: one line per problem, errors first, with file and fix, then a summary', () => {
    const run = checkSite([layer], { ...ENV, CGI_CONFIG: '/opt/etc/httpd.conf' });
    expect(run.status).toBe(1);
    const lines = run.stdout.trim().split('\n');
    const summary = lines.pop()!;
    expect(summary).toMatch(new RegExp(`\\(x86_64\\): ${report.errors.length} errors, ${report.warnings.length} warnings; layer 2\\d\\d\\.\\d MB of 250 MB$`));
    expect(lines).toHaveLength(report.errors.length + report.warnings.length);
    const firstWarning = lines.findIndex((l) => l.startsWith('warning: '));
    expect(lines.slice(0, firstWarning).every((l) => l.startsWith('error: '))).toBe(true);
    expect(lines.slice(firstWarning).every((l) => l.startsWith('warning: '))).toBe(true);
    for (const l of lines) expect(l).toMatch(/^(error|warning): \S+(:\d+)?: .+ \(fix: .+\)$/);
    expect(lines).toContain(`error: ${join(layer, 'cgi-bin/arm.cgi')}: built for arm64 (aarch64), but the function is x86_64 (fix: rebuild it for x86_64, or deploy with --param="architecture=arm64")`);
  });

  it('--arch arm64 turns the architecture finding around', () => {
    const { report: arm } = json([layer, '--arch', 'arm64'], ENV);
    expect(finding(arm.errors, 'architecture', 'cgi-bin/good.cgi').message).toBe('built for x86_64, but the function is arm64');
    expect(arm.errors.some((f) => f.check === 'architecture' && f.file.endsWith('arm.cgi'))).toBe(false);
  });
});

describe('the example site', () => {
  it('checks clean with a Perl layer: exit 0, no errors, no warnings', () => {
    const { status: code, report: r } = json(['layers', '--perl-layer', PERL_LAYER]);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(code).toBe(0);
    expect(r.layerBytes).toBeGreaterThan(0);
  });

  it('without one: still exit 0, and one warning saying which layer to add', () => {
    const { status: code, report: r } = json([]);
    expect(code).toBe(0);
    expect(r.errors).toEqual([]);
    expect(r.warnings.map((w) => w.check)).toEqual(['interpreter']);
  });
});

describe('the command line', () => {
  it('--json: {errors, warnings, layerBytes}, each finding with level, check, file, message, fix', () => {
    expect(Object.keys(report).sort()).toEqual(['errors', 'layerBytes', 'warnings']);
    for (const f of [...report.errors, ...report.warnings]) {
      expect(Object.keys(f).filter((k) => !['line', 'also'].includes(k)).sort()).toEqual(['check', 'file', 'fix', 'level', 'message']);
      expect(typeof f.message).toBe('string');
      expect(f.fix.length).toBeGreaterThan(5);
    }
  });

  it('exit 2 on bad usage; a missing folder or a bad setting is an error (exit 1), a missing CGI_ROOT a warning', () => {
    expect(checkSite(['--arch', 'sparc']).status).toBe(2);
    expect(checkSite(['a', 'b']).status).toBe(2);
    const missing = json([join(root, 'nope')]);
    expect(missing.status).toBe(1);
    expect(missing.report.errors[0].message).toBe('the layer folder does not exist');
    const bad = json(['layers'], { CGI_TIMEOUT_MS: 'soon' });
    expect(bad.status).toBe(1);
    expect(bad.report.errors[0].message).toMatch(/CGI_TIMEOUT_MS must be a positive integer/);
    // The handler's own start-up warning, as a warning: a site may serve scripts from its document root only.
    const noRoot = json(['layers'], { CGI_ROOT: '/opt/scripts' });
    expect(noRoot.report.warnings[0].message).toMatch(/^CGI_ROOT \/opt\/scripts does not exist: every \/cgi-bin URL will be 404/);
    expect(noRoot.status).toBe(0);
  });
});

describe('serverless package runs the check', () => {
  let project: string;
  beforeAll(() => {
    project = join(root, 'project');
    mkdirSync(project);
    for (const f of ['serverless.yml', 'package.json', 'tsconfig.json', 'handler', 'scripts', 'layers', 'wrapper']) {
      cpSync(join(REPO, f), join(project, f), { recursive: true });
    }
    symlinkSync(join(REPO, 'node_modules'), join(project, 'node_modules'));
    compile('aarch64-linux-gnu-gcc', C_ARM, join(project, 'layers', 'cgi-bin', 'arm.cgi'), ['-nostdlib', '-static']);
  });

  // Without the tests' own AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: the plugin must keep the SDK quiet itself.
  const env = childEnv();
  delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  const pkg = (params: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', join(project, 'scripts', 'package-offline.ts'), '--package', join(root, 'out'), ...params], {
      cwd: project,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });

  it('fails on an error, naming the file and the fix; --param=checkSite=warn packages anyway; no Node warning', () => {
    const failed = pkg([]);
    expect(failed.status).not.toBe(0);
    const out = failed.stdout + failed.stderr;
    expect(out).toMatch(/lambda-cgi: error: layers\/cgi-bin\/arm\.cgi: built for arm64 \(aarch64\), but the function is x86_64/);
    expect(out).toMatch(/the site check found 1 error/);
    const warned = pkg(['--param=checkSite=warn']);
    expect(warned.stdout + warned.stderr).toMatch(/Service packaged/);
    expect(out + warned.stdout + warned.stderr).not.toMatch(/NodeVersionSupportWarning|\(node:\d+\) Warning/);
    expect(warned.status).toBe(0);
  }, 240_000);
});
