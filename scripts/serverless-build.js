// A local serverless plugin: every `serverless package`, `deploy` and `offline`
// ships or serves a freshly built dist/handler.js, the same build as `npm run build`
// (packaging also builds the exec-wrapper layer for the function's architecture);
// and --param="perlLayer=<arn>" adds that layer to every function (a list entry
// cannot be made optional in serverless.yml itself).
'use strict';
const { pathToFileURL } = require('node:url');
const { join } = require('node:path');

class BuildHandler {
  constructor(serverless, _options, { log } = {}) {
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
      },
      'before:deploy:function:packageFunction': build,
      'before:offline:start:init': build,
      'before:offline:start': build,
      'before:invoke:local:invoke': build,
    };
  }
}

module.exports = BuildHandler;
