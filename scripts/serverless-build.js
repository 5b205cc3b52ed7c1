// A local serverless plugin: every `serverless package`, `deploy` and `offline`
// ships or serves a freshly built dist/handler.js, the same build as `npm run build`
// (packaging also builds the exec-wrapper layer for the function's architecture);
// and --param="perlLayer=<arn>" adds that layer to every function (a list entry
// cannot be made optional in serverless.yml itself); --param="efsAccessPoint=<arn>"
// (with subnetIds and securityGroupIds) mounts that EFS access point in a VPC;
// CGI_WRITABLE directories become symlinks in the site layer (scripts/writable-layer.js).
// Before packaging it checks the site layer (npm run check-site) and fails on errors.
'use strict';
const { spawnSync } = require('node:child_process');
const { pathToFileURL } = require('node:url');
const { join, resolve } = require('node:path');
const { EFS_MOUNT_PATH, TMP_DATA_DIR, parseWritable, layerEntries, writeZip } = require('./writable-layer');

const SITE_LAYER = 'site';
const commaList = (raw) => String(raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);

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
    const custom = () => serverless.service.custom ?? {};
    const environment = () => (serverless.service.provider.environment ??= {});
    // Empty params mean "not set" (osls resolves an unset ${param:x, ''} to '').
    const addFileSystem = () => {
      const arn = custom().efsAccessPoint;
      if (!arn) return;
      const subnetIds = commaList(custom().subnetIds);
      const securityGroupIds = commaList(custom().securityGroupIds);
      if (subnetIds.length === 0 || securityGroupIds.length === 0) {
        throw new Error('lambda-cgi: --param="efsAccessPoint=..." needs --param="subnetIds=subnet-a,subnet-b" and --param="securityGroupIds=sg-1" (the VPC the mount targets are in)');
      }
      for (const fn of Object.values(serverless.service.functions ?? {})) {
        fn.fileSystemConfig = { arn, localMountPath: EFS_MOUNT_PATH };
        fn.vpc = { securityGroupIds, subnetIds };
      }
      if (!environment().CGI_DATA_DIR) environment().CGI_DATA_DIR = EFS_MOUNT_PATH;
    };
    const packageSiteLayer = async () => {
      const writable = parseWritable(environment().CGI_WRITABLE);
      const layer = serverless.service.layers?.[SITE_LAYER];
      if (writable.length === 0 || layer === undefined || layer.package?.artifact) return;
      const pkg = serverless.pluginManager.plugins.find((p) => typeof p.resolveFilePathsLayer === 'function');
      const layerDir = resolve(serverless.serviceDir, layer.path);
      const files = await pkg.resolveFilePathsLayer(SITE_LAYER);
      const dataDir = environment().CGI_DATA_DIR || TMP_DATA_DIR;
      const zip = join(serverless.serviceDir, '.serverless', `${SITE_LAYER}.zip`);
      await writeZip(layerEntries(layerDir, files, writable, dataDir), zip);
      layer.package = { ...layer.package, artifact: zip };
      (log?.notice ?? console.log)(`lambda-cgi: writable ${writable.join(', ')} linked to ${dataDir}`);
    };
    this.hooks = {
      // Before the IAM role is built: a function in a VPC needs its network-interface policy.
      'before:package:initialize': addFileSystem,
      'before:package:createDeploymentArtifacts': async () => {
        await build({ layer: true });
        addPerlLayer();
        checkSite(serverless, log);
        await packageSiteLayer();
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
