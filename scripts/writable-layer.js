// The packaging half of CGI_WRITABLE: the site layer zip, in which each writable
// directory is a symlink into the data directory (an EFS mount, or /tmp when there
// is none) and its packaged contents wait under .lambda-cgi/seed/ to be copied
// there on first use (handler/writable.ts does that at start).
//
// osls zips what a symlink points to (it stats through links), and a link into a
// mount that does not exist yet cannot be followed at all, so the layer is zipped
// here, with the same file list and file modes osls would use.
'use strict';
const { lstatSync, readFileSync, statSync, mkdirSync, createWriteStream } = require('node:fs');
const { dirname, join } = require('node:path');

/** Where writable directories live when no durable mount is configured (keep in step with handler/writable.ts). */
const TMP_DATA_DIR = '/tmp/lambda-cgi';
/** The EFS access point's mount path in the function (Lambda requires /mnt/...). */
const EFS_MOUNT_PATH = '/mnt/site';
/** Where a writable directory's packaged contents go in the layer (keep in step with handler/writable.ts). */
const SEED_DIR = '.lambda-cgi/seed';

/** CGI_WRITABLE as a list of layer-relative directories; throws on anything that could leave the layer. */
function parseWritable(raw) {
  const out = [];
  for (const entry of String(raw ?? '').split(/[,\s]+/).filter(Boolean)) {
    const rel = entry.replace(/\/+$/, '');
    const segs = rel.split('/');
    if (rel.startsWith('/') || segs.some((s) => s === '' || s === '.' || s === '..' || s.startsWith('.lambda-cgi'))) {
      throw new Error(`CGI_WRITABLE entry "${entry}" must be a directory relative to the site layer (e.g. cgi-bin/data)`);
    }
    out.push(rel);
  }
  return out;
}

/** The writable directory `file` (layer-relative) lies in, if any. */
function writableOf(file, writable) {
  return writable.find((w) => file === w || file.startsWith(w + '/'));
}

/**
 * The layer's entries: `files` (layer-relative, as osls resolved them from the
 * layer's patterns) with those under a writable directory moved to the seed
 * location, and one symlink per writable directory into `dataDir`.
 */
function layerEntries(layerDir, files, writable, dataDir) {
  const entries = [];
  for (const file of files) {
    const w = writableOf(file, writable);
    // A writable directory that is already a link (serverless-offline made it) holds local data, never packaged.
    if (w !== undefined && lstatSync(join(layerDir, w), { throwIfNoEntry: false })?.isSymbolicLink()) continue;
    const path = join(layerDir, file);
    const mode = statSync(path).mode & 0o100 ? 0o100755 : 0o100644;
    entries.push({ name: w === undefined ? file : `${SEED_DIR}/${file}`, path, mode });
  }
  for (const w of writable) entries.push({ name: w, link: `${dataDir}/${w}`, mode: 0o120777 });
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Writes the entries as a zip (Unix modes, symlinks as link entries, osls's fixed mtime). */
function writeZip(entries, zipPath) {
  const yazl = require('yazl');
  mkdirSync(dirname(zipPath), { recursive: true });
  const zip = new yazl.ZipFile();
  const mtime = new Date(0);
  for (const e of entries) {
    if (e.link !== undefined) zip.addBuffer(Buffer.from(e.link), e.name, { mode: e.mode, mtime, compress: false });
    else zip.addBuffer(readFileSync(e.path), e.name, { mode: e.mode, mtime });
  }
  zip.end();
  return new Promise((resolve, reject) => {
    const out = createWriteStream(zipPath);
    out.on('close', () => resolve(zipPath));
    out.on('error', reject);
    zip.outputStream.on('error', reject).pipe(out);
  });
}

module.exports = { TMP_DATA_DIR, EFS_MOUNT_PATH, SEED_DIR, parseWritable, layerEntries, writeZip };
