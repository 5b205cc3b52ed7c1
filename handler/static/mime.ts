/**
 * Media types by file extension, from the `mime` package's tables (the
 * mime-db database: IANA, Apache's mime.types and nginx's, one type chosen per
 * extension). Loaded on the first lookup, so a request that serves no file
 * never pays for the table.
 */

/** What Apache 2.4's default httpd.conf adds with AddType, over mime.types (its AddEncoding lines are commented out). */
const HTTPD_CONF_TYPES: Record<string, string> = {
  z: 'application/x-compress',
  gz: 'application/x-gzip',
  tgz: 'application/x-gzip',
};

let byExtension: Map<string, string> | undefined;

function table(): Map<string, string> {
  if (byExtension !== undefined) return byExtension;
  const map = new Map<string, string>();
  // require() here, not import: esbuild then runs the tables' module code only on the first lookup.
  const sets: Array<Record<string, string[]>> = [
    require('mime/types/standard.js').default,
    require('mime/types/other.js').default,
  ];
  for (const types of sets) {
    for (const [type, extensions] of Object.entries(types)) {
      // A starred extension is listed for the type but is not what that extension means.
      for (const ext of extensions) if (!ext.startsWith('*') && !map.has(ext)) map.set(ext, type);
    }
  }
  for (const [ext, type] of Object.entries(HTTPD_CONF_TYPES)) map.set(ext, type);
  byExtension = map;
  return map;
}

/** The type of one extension (`gz` or `.gz`, any case), or undefined when the database has none. */
export function typeForExtension(ext: string): string | undefined {
  const key = (ext.startsWith('.') ? ext.slice(1) : ext).toLowerCase();
  return key === '' ? undefined : table().get(key);
}

/** A file name's extensions in order, as mod_mime reads them: `a.tar.gz` has `tar` and `gz`; the part before the first dot is the name. */
export function extensionsOf(file: string): string[] {
  const name = file.slice(file.lastIndexOf('/') + 1);
  return name.split('.').slice(1).filter((e) => e !== '');
}

/**
 * A file's media type, without charset, as Apache's mod_mime finds it: every
 * extension is looked up and the last one with a type wins, so `a.tar.gz` is
 * application/x-gzip and `page.html.bak` is text/html. Undefined when no
 * extension has a type (the caller's DefaultType, or none, applies).
 */
export function mimeTypeFor(file: string): string | undefined {
  let type: string | undefined;
  for (const ext of extensionsOf(file)) type = typeForExtension(ext) ?? type;
  return type;
}
