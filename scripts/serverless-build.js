// A local serverless plugin: every `serverless package`, `deploy` and `offline`
// ships or serves a freshly built dist/handler.js, the same build as `npm run build`;
// and --param="perlLayer=<arn>" adds that layer to every function (a list entry
// cannot be made optional in serverless.yml itself); --param="efsAccessPoint=<arn>"
// (with subnetIds and securityGroupIds) mounts that EFS access point in a VPC; and
// CGI_WRITABLE directories become symlinks in the site layer (scripts/writable-layer.js).
'use strict';
const { pathToFileURL } = require('node:url');
const { join, resolve } = require('node:path');
const { EFS_MOUNT_PATH, TMP_DATA_DIR, parseWritable, layerEntries, writeZip } = require('./writable-layer');

const SITE_LAYER = 'site';
const commaList = (raw) => String(raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);

class BuildHandler {
  constructor(serverless, _options, { log } = {}) {
    const build = async () => {
      const { buildAll } = await import(pathToFileURL(join(__dirname, 'build.mjs')).href);
      const built = await buildAll({ quiet: true });
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
        await build();
        addPerlLayer();
        await packageSiteLayer();
      },
      'before:deploy:function:packageFunction': build,
      'before:offline:start:init': build,
      'before:offline:start': build,
      'before:invoke:local:invoke': build,
    };
  }
}

module.exports = BuildHandler;
