// Bundles the handler into dist/handler.js: one CommonJS file, Node built-ins only.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'handler.js');

export async function buildHandler({ quiet = false } = {}) {
  const result = await build({
    entryPoints: [join(root, 'handler', 'index.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: true,
    minify: true,
    keepNames: false,
    legalComments: 'none',
    metafile: true,
    write: false,
    logLevel: quiet ? 'error' : 'warning',
  });
  // A runtime dependency would have to be shipped beside the bundle; the handler has none by design.
  const foreign = Object.keys(result.metafile.inputs).filter((f) => !f.startsWith('handler/'));
  if (foreign.length > 0) throw new Error(`handler bundle pulls in non-built-in code: ${foreign.join(', ')}`);
  // Written beside and renamed into place: a running serverless-offline never loads half a bundle.
  mkdirSync(dirname(outfile), { recursive: true });
  for (const file of result.outputFiles) {
    const tmp = `${file.path}.${process.pid}.tmp`;
    writeFileSync(tmp, file.contents);
    renameSync(tmp, file.path);
  }
  if (!quiet) console.log(`built ${outfile} (${statSync(outfile).size} bytes)`);
  copyPerlWorker();
  return outfile;
}

/** The Perl worker's server runs beside the bundle (handler/process/worker.ts looks in dist/perl/). */
const PERL_WORKER = 'lambda-cgi-worker.pl';
function copyPerlWorker() {
  const dir = join(root, 'dist', 'perl');
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `${PERL_WORKER}.${process.pid}.tmp`);
  copyFileSync(join(root, 'handler', 'process', 'perl', PERL_WORKER), tmp);
  renameSync(tmp, join(dir, PERL_WORKER));
}

/** Compiles the example site's C programs, when the layer has sources with a Makefile. */
export function buildSite({ quiet = false } = {}) {
  const src = join(root, 'layers', 'cgi-src');
  if (!existsSync(join(src, 'Makefile'))) return [];
  execFileSync('make', ['-s', '-C', src], { stdio: quiet ? 'pipe' : 'inherit' });
  return ['layers/cgi-bin (C programs)'];
}

export async function buildAll(opts) {
  await buildHandler(opts);
  return ['dist/handler.js', 'dist/perl/', ...buildSite(opts)];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildAll();
}
