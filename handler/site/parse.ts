/**
 * Apache configuration syntax, as `.htaccess` files and the CGI_CONFIG file are
 * written: one directive a line, `#` comment lines, `\` line continuations,
 * "quoted" and 'quoted' words, case-insensitive names, and nested `<Section>`s.
 * `<IfModule>` is decided here, so what an Apache without the module would skip
 * never reaches the directive table. Every directive is checked against the table
 * (directives.ts) while it is read: the problems list is exactly what the runtime
 * refuses to serve a directory over.
 */
import { DIRECTIVES, ArgError, type Context } from './directives';

export interface Problem {
  file: string;
  line: number;
  directive: string;
  message: string;
}

export interface DirectiveNode {
  type: 'directive';
  /** Lower-case name: the key into DIRECTIVES. */
  name: string;
  /** The name as the file spells it, for messages. */
  spelled: string;
  args: string[];
  /** What the directive's argument parser made of `args`. */
  value: unknown;
  file: string;
  line: number;
}

export type SectionName =
  | 'files' | 'filesmatch' | 'limit' | 'limitexcept'
  | 'requireany' | 'requireall' | 'requirenone' | 'directory' | 'directorymatch';

export interface SectionNode {
  type: 'section';
  name: SectionName;
  args: string[];
  /** Compiled pattern of <FilesMatch>/<DirectoryMatch>, or of <Files ~ "re">. */
  regex?: RegExp;
  children: ConfigNode[];
  file: string;
  line: number;
}

export type ConfigNode = DirectiveNode | SectionNode;

export interface ApacheConfig {
  file: string;
  context: Context;
  nodes: ConfigNode[];
  problems: Problem[];
}

/** Modules whose directives we implement: <IfModule> is true for these (names without mod_/.c/_module). */
export const IMPLEMENTED_MODULES = new Set([
  'core', 'auth_basic', 'authn_core', 'authn_file', 'authz_core', 'authz_user', 'authz_groupfile',
  'authz_host', 'access_compat', 'mime', 'dir', 'alias', 'headers', 'expires', 'env', 'cgi', 'cgid',
  'autoindex', 'so',
]);

export function moduleKey(name: string): string {
  return name.toLowerCase().replace(/\.c$/, '').replace(/^mod_/, '').replace(/_module$/, '');
}

/** Sections and where each may appear; `access` sections hold only access directives. */
const SECTIONS: Record<string, { contexts: Context[]; args: 'one' | 'some' | 'none' }> = {
  files: { contexts: ['htaccess', 'config'], args: 'one' },
  filesmatch: { contexts: ['htaccess', 'config'], args: 'one' },
  limit: { contexts: ['htaccess', 'config'], args: 'some' },
  limitexcept: { contexts: ['htaccess', 'config'], args: 'some' },
  requireany: { contexts: ['htaccess', 'config'], args: 'none' },
  requireall: { contexts: ['htaccess', 'config'], args: 'none' },
  requirenone: { contexts: ['htaccess', 'config'], args: 'none' },
  directory: { contexts: ['config'], args: 'one' },
  directorymatch: { contexts: ['config'], args: 'one' },
};
const REQUIRE_SECTIONS = new Set(['requireany', 'requireall', 'requirenone']);

/** Physical lines joined where one ends in a backslash; each logical line keeps the number it starts on. */
function logicalLines(text: string): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let acc = lines[i].replace(/\s+$/, '');
    while (acc.endsWith('\\') && i + 1 < lines.length) {
      acc = acc.slice(0, -1) + lines[++i].replace(/\s+$/, '');
    }
    out.push({ line: start, text: acc });
  }
  return out;
}

/** Apache's ap_getword_conf: whitespace-separated words, quotes grouping, \" inside quotes. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i])) i++;
    if (i >= text.length) break;
    const q = text[i];
    if (q === '"' || q === "'") {
      let word = '';
      i++;
      while (i < text.length && text[i] !== q) {
        if (text[i] === '\\' && (text[i + 1] === q || text[i + 1] === '\\')) i++;
        word += text[i++];
      }
      i++;
      words.push(word);
    } else {
      let j = i;
      while (j < text.length && !/\s/.test(text[j])) j++;
      words.push(text.slice(i, j));
      i = j;
    }
  }
  return words;
}

interface Frame {
  /** Lower-case section name ('' for the file itself, 'ifmodule' for a decided one). */
  name: string;
  spelled: string;
  line: number;
  /** Where this frame's content goes; undefined while skipping a false <IfModule>. */
  into: ConfigNode[] | undefined;
}

/** Whether a directive may sit inside the innermost real section of the stack. */
function enclosing(stack: Frame[]): string {
  for (let i = stack.length - 1; i > 0; i--) if (stack[i].name !== 'ifmodule') return stack[i].name;
  return '';
}

export function parseApacheConfig(text: string, file: string, context: Context = 'htaccess'): ApacheConfig {
  const problems: Problem[] = [];
  const nodes: ConfigNode[] = [];
  const stack: Frame[] = [{ name: '', spelled: '', line: 0, into: nodes }];
  const problem = (line: number, directive: string, message: string) => problems.push({ file, line, directive, message });

  for (const { line, text: raw } of logicalLines(text)) {
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) continue;
    const top = stack[stack.length - 1];

    if (t.startsWith('</')) {
      const m = /^<\/\s*([A-Za-z]+)\s*>$/.exec(t);
      const name = m?.[1].toLowerCase();
      if (name === undefined || stack.length === 1 || name !== top.name) {
        problem(line, t, stack.length === 1 ? 'closing tag without an open section' : `expected </${top.spelled}>`);
        // Stop here: what follows would land in the wrong section.
        return { file, context, nodes, problems };
      }
      stack.pop();
      continue;
    }

    if (t.startsWith('<')) {
      const m = /^<\s*([A-Za-z]+)(.*)>$/.exec(t);
      if (!m) {
        problem(line, t, 'malformed section tag');
        return { file, context, nodes, problems };
      }
      const spelled = m[1];
      const name = spelled.toLowerCase();
      const args = splitWords(m[2]);
      if (top.into === undefined) {
        stack.push({ name, spelled, line, into: undefined });
        continue;
      }
      if (name === 'ifmodule') {
        if (args.length !== 1) problem(line, `<${spelled}>`, 'takes exactly one module name');
        const arg = args[0] ?? '';
        const negate = arg.startsWith('!');
        const present = IMPLEMENTED_MODULES.has(moduleKey(negate ? arg.slice(1) : arg));
        stack.push({ name, spelled, line, into: present !== negate ? top.into : undefined });
        continue;
      }
      const spec = SECTIONS[name];
      const children: ConfigNode[] = [];
      stack.push({ name, spelled, line, into: children });
      if (spec === undefined) {
        problem(line, `<${spelled}>`, 'unsupported section');
        continue;
      }
      if (!spec.contexts.includes(context)) {
        problem(line, `<${spelled}>`, `not allowed in ${context === 'htaccess' ? '.htaccess files' : 'the server config'}`);
        continue;
      }
      const outer = enclosing(stack.slice(0, -1));
      if (outer === 'limit' || outer === 'limitexcept' || (REQUIRE_SECTIONS.has(outer) && !REQUIRE_SECTIONS.has(name))) {
        problem(line, `<${spelled}>`, `not allowed inside <${outer}>`);
        continue;
      }
      if ((name === 'directory' || name === 'directorymatch') && outer !== '') {
        problem(line, `<${spelled}>`, 'must be at the top level');
        continue;
      }
      if ((name === 'files' || name === 'filesmatch') && (outer === 'files' || outer === 'filesmatch')) {
        problem(line, `<${spelled}>`, 'cannot be nested in another <Files>');
        continue;
      }
      if (spec.args === 'one' && args.length !== 1 && !(args.length === 2 && args[0] === '~')) {
        problem(line, `<${spelled}>`, 'takes exactly one argument');
        continue;
      }
      if (spec.args === 'some' && args.length === 0) {
        problem(line, `<${spelled}>`, 'needs at least one HTTP method');
        continue;
      }
      if (spec.args === 'none' && args.length !== 0) {
        problem(line, `<${spelled}>`, 'takes no arguments');
        continue;
      }
      const node: SectionNode = { type: 'section', name: name as SectionName, args, children, file, line };
      if (name === 'filesmatch' || name === 'directorymatch' || args[0] === '~') {
        try {
          node.regex = new RegExp(args[args.length - 1]);
        } catch (err) {
          problem(line, `<${spelled}>`, `bad regular expression: ${(err as Error).message}`);
          continue;
        }
      }
      if (name === 'limit' || name === 'limitexcept') node.args = args.map((a) => a.toUpperCase());
      top.into.push(node);
      continue;
    }

    if (top.into === undefined) continue;
    const words = splitWords(t);
    const spelled = words[0];
    const name = spelled.toLowerCase();
    const args = words.slice(1);
    const spec = DIRECTIVES[name];
    if (spec === undefined) {
      problem(line, spelled, name.startsWith('rewrite')
        ? 'mod_rewrite is not implemented (put it inside <IfModule mod_rewrite.c> to skip it)'
        : 'unknown or unsupported directive');
      continue;
    }
    if (!spec.contexts.includes(context)) {
      problem(line, spelled, `not allowed in ${context === 'htaccess' ? '.htaccess files' : 'the server config'}`);
      continue;
    }
    const outer = enclosing(stack);
    if ((outer === 'limit' || outer === 'limitexcept') && !spec.access) {
      problem(line, spelled, `only access directives are allowed inside <${outer}>`);
      continue;
    }
    if (REQUIRE_SECTIONS.has(outer) && name !== 'require') {
      problem(line, spelled, `only Require is allowed inside <${outer}>`);
      continue;
    }
    if (spec.topLevel && outer !== '') {
      problem(line, spelled, 'only allowed at the top level of the server config');
      continue;
    }
    let value: unknown;
    try {
      value = spec.parse(args);
    } catch (err) {
      if (!(err instanceof ArgError)) throw err;
      problem(line, spelled, err.message);
      continue;
    }
    if (name === 'require' && (value as { negate: boolean }).negate && outer !== 'requireall' && outer !== 'requirenone') {
      problem(line, spelled, 'a negated Require has no effect outside <RequireAll> or <RequireNone>');
      continue;
    }
    top.into.push({ type: 'directive', name, spelled, args, value, file, line });
  }
  for (let i = stack.length - 1; i > 0; i--) {
    problem(stack[i].line, `<${stack[i].spelled}>`, `section is never closed with </${stack[i].spelled}>`);
  }
  return { file, context, nodes, problems };
}
