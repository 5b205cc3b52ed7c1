/**
 * npm run check-site [-- DIR] [--json] [--arch x86_64|arm64] [--perl-layer ARN] [--layer ARN]...
 *
 * Checks the site layer folder (default: layers/) for what would fail on Lambda;
 * settings (CGI_ROOT, CGI_INTERPRETERS, CGI_CONFIG, CGI_WRITABLE, ...) come from
 * the environment, with serverless.yml's defaults. Exit status 1 on errors.
 * The build plugin (scripts/serverless-build.js) runs it before every package and deploy.
 */
import { parseArgs } from 'node:util';
import { checkSite, DEFAULT_EXCLUDE, formatFinding, mb, type CheckOptions } from './check/site';

const HELP = `Usage: npm run check-site [-- DIR] [options]

Checks the site layer folder DIR (default: layers) for what would fail on Lambda:
exec bits, shebangs (Windows line endings, interpreters Lambda lacks), compiled
programs (architecture, glibc, libraries), .htaccess and CGI_CONFIG directives,
AuthUserFile paths, writes into the read-only layer, the layer's size.
Settings are read from the environment as serverless.yml passes them.

  --json               one JSON object: {"errors": [...], "warnings": [...], "layerBytes": N}
  --arch ARCH          the function's architecture: x86_64 (default) or arm64
  --perl-layer ARN     the Perl layer deployed with the function (--param=perlLayer)
  --layer ARN          another layer of the function (repeatable)
  --exclude PATH       a path of DIR the layer leaves out (repeatable; default: ${DEFAULT_EXCLUDE.join(', ')})
  -h, --help           this text

Exit status: 0 no errors (warnings may remain), 1 errors, 2 bad usage.`;

function main(): number {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        arch: { type: 'string' },
        'perl-layer': { type: 'string' },
        layer: { type: 'string', multiple: true },
        exclude: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    console.error(`check-site: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const arch = values.arch ?? process.env.CGI_CHECK_ARCH ?? 'x86_64';
  if ((arch !== 'x86_64' && arch !== 'arm64') || positionals.length > 1) {
    console.error(`check-site: ${positionals.length > 1 ? 'one DIR at most' : `--arch must be x86_64 or arm64, got "${arch}"`}\n\n${HELP}`);
    return 2;
  }
  const opts: CheckOptions = {
    layerDir: positionals[0] ?? 'layers',
    env: process.env,
    architecture: arch,
    layers: [...(values['perl-layer'] ? [values['perl-layer']] : []), ...(values.layer ?? [])],
    exclude: values.exclude ?? DEFAULT_EXCLUDE,
  };
  const report = checkSite(opts);
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    for (const f of [...report.errors, ...report.warnings]) console.log(formatFinding(f));
    const n = (k: number, what: string) => `${k} ${what}${k === 1 ? '' : 's'}`;
    console.log(`check-site ${opts.layerDir} (${arch}): ${n(report.errors.length, 'error')}, ${n(report.warnings.length, 'warning')}; layer ${mb(report.layerBytes)} of 250 MB`);
  }
  return report.errors.length > 0 ? 1 : 0;
}

process.exitCode = main();
