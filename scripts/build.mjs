// Bundles the handler into dist/handler.js: one CommonJS file, Node built-ins and the allowed packages only.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { brotliCompressSync, constants as zlibConstants } from 'node:zlib';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'handler.js');
/** npm packages the handler may bundle, each with why. */
const BUNDLED_PACKAGES = [
  'mime', // the media type database for static files (handler/static/mime.ts), loaded on first use
  'bcryptjs', // htpasswd bcrypt hashes ($2y$, $2a$, $2b$), required when a login is checked (handler/site/htpasswd.ts)
  'apache-md5', // htpasswd $apr1$ hashes, likewise
  'unix-crypt-td-js', // htpasswd crypt(3) DES hashes, likewise
];

/**
 * Data modules of bundled packages as one brotli-compressed JSON string each:
 * the same object, but V8 scans a short string literal far faster than it
 * pre-parses a large object literal (require() time), and compressed it takes
 * a third of the bundle's bytes (brotli: 1.4 KB less than deflate). It is
 * decompressed on first use (the tables are required lazily).
 */
const jsonDataModules = {
  name: 'json-data-modules',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]mime[\\/]dist[\\/]types[\\/][a-z]+\.js$/ }, async (args) => {
      const data = (await import(pathToFileURL(args.path).href)).default;
      const packed = brotliCompressSync(JSON.stringify(data), {
        params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 11, [zlibConstants.BROTLI_PARAM_MODE]: zlibConstants.BROTLI_MODE_TEXT },
      }).toString('base64');
      return {
        contents: `import { brotliDecompressSync } from 'node:zlib';\nexport default JSON.parse(brotliDecompressSync(Buffer.from(${JSON.stringify(packed)}, 'base64')).toString());`,
        loader: 'js',
      };
    });
  },
};

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
    plugins: [jsonDataModules],
  });
  // Runtime packages are bundled in, so each one is a deliberate choice: this list names them.
  const foreign = Object.keys(result.metafile.inputs).filter(
    (f) => !f.startsWith('handler/') && !BUNDLED_PACKAGES.some((p) => f.includes(`node_modules/${p}/`)),
  );
  if (foreign.length > 0) throw new Error(`handler bundle pulls in code that is neither handler/ nor an allowed package (BUNDLED_PACKAGES): ${foreign.join(', ')}`);
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

/** The exec wrapper's C parts (wrapper/): what each is built from and how. */
const WRAPPER_OBJECTS = [
  { out: 'lambda-cgi-nodump.so', src: 'nodump.c', flags: ['-shared', '-fPIC'] },
  { out: 'cgi-exec', src: 'cgi-exec.c', flags: [] },
  { out: 'cgi-spawner', src: 'cgi-spawner.c', flags: [] },
];
const ARCHES = { x64: 'x86_64', arm64: 'arm64' };
const CROSS_CC = { x86_64: 'x86_64-linux-gnu-gcc', arm64: 'aarch64-linux-gnu-gcc' };

/** This machine's architecture in Lambda's words. */
export const hostArch = ARCHES[process.arch] ?? process.arch;

/**
 * Builds exec-wrapper and the objects it uses into `outDir`, for `arch`
 * (Lambda's x86_64 or arm64): the system compiler for this machine's
 * architecture, Debian's cross compiler for the other one.
 */
export function buildWrapper(outDir, arch = hostArch) {
  const cc = arch === hostArch ? 'cc' : CROSS_CC[arch];
  if (cc === undefined) throw new Error(`no compiler known for architecture ${arch}`);
  const src = join(root, 'wrapper');
  mkdirSync(outDir, { recursive: true });
  // Written beside and renamed into place, like the bundle: a running host never loads half an object.
  const place = (tmp, name, mode) => {
    chmodSync(tmp, mode);
    renameSync(tmp, join(outDir, name));
  };
  for (const o of WRAPPER_OBJECTS) {
    const tmp = join(outDir, `.${o.out}.${process.pid}.tmp`);
    try {
      execFileSync(cc, ['-O2', '-Wall', '-Werror', '-s', ...o.flags, '-o', tmp, join(src, o.src)], { stdio: 'pipe' });
    } catch (err) {
      rmSync(tmp, { force: true });
      throw new Error(`${cc} ${o.src} for ${arch} failed: ${err.stderr ?? err.message}`);
    }
    place(tmp, o.out, o.flags.includes('-shared') ? 0o644 : 0o755);
  }
  const tmp = join(outDir, `.exec-wrapper.${process.pid}.tmp`);
  copyFileSync(join(src, 'exec-wrapper'), tmp);
  place(tmp, 'exec-wrapper', 0o755);
  return outDir;
}

/** The layer serverless.yml ships as /opt/lambda-cgi/: build/lambda-cgi-layer/lambda-cgi/. */
export function buildLayer(arch) {
  const dir = join(root, 'build', 'lambda-cgi-layer');
  rmSync(dir, { recursive: true, force: true });
  buildWrapper(join(dir, 'lambda-cgi'), arch);
  return `build/lambda-cgi-layer (${arch})`;
}

export async function buildAll(opts) {
  await buildHandler(opts);
  buildWrapper(join(root, 'dist', 'wrapper'));
  return ['dist/handler.js', 'dist/perl/', 'dist/wrapper', ...buildSite(opts)];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildAll();
}
