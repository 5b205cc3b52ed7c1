// Jest runs CommonJS; bundled runtime packages that ship only ES modules (mime) are turned into CommonJS here with esbuild, as the bundle does.
const { transformSync } = require('esbuild');

module.exports = {
  process(source, path) {
    const { code, map } = transformSync(source, { format: 'cjs', target: 'node20', sourcefile: path, sourcemap: 'external', loader: 'js' });
    return { code, map };
  },
};
