// A local serverless plugin: every `serverless package`, `deploy` and `offline`
// ships or serves a freshly built dist/handler.js, the same build as `npm run build`
// (packaging also builds the exec-wrapper layer for the function's architecture);
// and --param="perlLayer=<arn>" adds that layer to every function (a list entry
// cannot be made optional in serverless.yml itself). Before packaging it checks
// the site layer (npm run check-site) and fails on errors.
'use strict';
const { spawnSync } = require('node:child_process');
const { pathToFileURL } = require('node:url');
const { join, resolve } = require('node:path');

/**
 * Runs scripts/check-site.ts on the site layer with the function's own settings,
 * architecture and layers; prints every finding, throws when there are errors.
 */
function checkSite(serverless, log) {
  const service = serverless.service;
  const mode = String(service.custom?.checkSite ?? 'on');
  if (mode === 'off') return;
  const root = serverless.serviceDir ?? serverless.config?.servicePath ?? process.cwd();
  const layer = service.layers?.site;
  const layerDir = resolve(root, layer?.path ?? 'layers');
  const args = [layerDir, '--json', `--arch=${service.provider.architecture || 'x86_64'}`];
  for (const p of layer?.package?.patterns ?? []) {
    if (typeof p === 'string' && p.startsWith('!')) args.push(`--exclude=${p.slice(1).replace(/\/\*\*$/, '')}`);
  }
  for (const fn of Object.values(service.functions ?? {})) {
    for (const l of fn.layers ?? []) if (typeof l === 'string') args.push(`--layer=${l}`);
  }
  const env = { ...process.env };
  for (const [k, v] of Object.entries(service.provider.environment ?? {})) if (typeof v === 'string') env[k] = v;
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, 'check-site.ts'), ...args], {
    cwd: root, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024,
  });
  let report;
  try {
    report = JSON.parse(run.stdout);
  } catch {
    throw new Error(`lambda-cgi: the site check could not run (exit ${run.status}): ${run.stderr || run.stdout}`);
  }
  const line = (f) => `${f.level}: ${f.file}${f.line ? `:${f.line}` : ''}: ${f.message}${f.also ? ` [also ${f.also.join(', ')}]` : ''} (fix: ${f.fix})`;
  for (const f of report.warnings) (log?.warning ?? console.warn)(`lambda-cgi: ${line(f)}`);
  for (const f of report.errors) (log?.error ?? console.error)(`lambda-cgi: ${line(f)}`);
  if (report.errors.length > 0 && mode !== 'warn') {
    throw new Error(`lambda-cgi: the site check found ${report.errors.length} error(s) in ${layerDir} (listed above); fix them, or package anyway with --param="checkSite=warn"`);
  }
  const n = (k, what) => `${k} ${what}${k === 1 ? '' : 's'}`;
  (log?.notice ?? console.log)(`lambda-cgi: site checked: ${n(report.errors.length, 'error')}, ${n(report.warnings.length, 'warning')}`);
}

class BuildHandler {
  constructor(serverless, _options, { log } = {}) {
    // The AWS SDK's notice that its 2027 releases will need Node 22 is noise in every
    // deploy and package on Node 20; the clients are made after plugins load.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const build = async ({ layer = false } = {}) => {
      const { buildAll, buildLayer } = await import(pathToFileURL(join(__dirname, 'build.mjs')).href);
      const built = await buildAll({ quiet: true });
      // The wrapper layer is compiled for the function's architecture, not this machine's.
      if (layer) built.push(buildLayer(serverless.service.provider.architecture || 'x86_64'));
      (log?.notice ?? console.log)(`lambda-cgi: built ${built.join(', ')}`);
    };
    const addPerlLayer = () => {
      const arn = serverless.service.custom?.perlLayer;
      if (!arn) return;
      for (const fn of Object.values(serverless.service.functions ?? {})) {
        fn.layers = [...(fn.layers ?? []), arn];
      }
    };
    this.hooks = {
      'before:package:createDeploymentArtifacts': async () => {
        await build({ layer: true });
        addPerlLayer();
        checkSite(serverless, log);
      },
      'before:deploy:function:packageFunction': async () => {
        await build();
        addPerlLayer();
        checkSite(serverless, log);
      },
      'before:offline:start:init': build,
      'before:offline:start': build,
      'before:invoke:local:invoke': build,
    };
  }
}

module.exports = BuildHandler;
