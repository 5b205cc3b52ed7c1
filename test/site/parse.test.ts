import { DIRECTIVES } from '../../handler/site/directives';
import { parseApacheConfig, splitWords, type DirectiveNode, type SectionNode } from '../../handler/site/parse';

describe('parseApacheConfig', () => {
  test('comments, quoting, continuations and case-insensitive names', () => {
    const cfg = parseApacheConfig(
      ['# a comment', '  AUTHNAME "Members only"', 'addhandler cgi-script \\', '   .cgi .pl', "Header set X-Quote 'it is'", ''].join('\n'),
      '/site/.htaccess',
    );
    expect(cfg.problems).toEqual([]);
    const [name, handler] = cfg.nodes as DirectiveNode[];
    expect(name).toMatchObject({ name: 'authname', spelled: 'AUTHNAME', args: ['Members only'], line: 2 });
    expect(handler).toMatchObject({ name: 'addhandler', args: ['cgi-script', '.cgi', '.pl'], line: 3 });
  });

  test('splitWords keeps escaped quotes inside quotes', () => {
    expect(splitWords(`a "b c" 'd' "e \\" f" g\\h`)).toEqual(['a', 'b c', 'd', 'e " f', 'g\\h']);
  });

  test('unknown directives are problems naming file, line and directive', () => {
    const cfg = parseApacheConfig('Options -Indexes\nFooBar baz\nRewriteEngine On\n', 'x/.htaccess');
    expect(cfg.problems).toEqual([
      { file: 'x/.htaccess', line: 2, directive: 'FooBar', message: 'unknown or unsupported directive' },
      expect.objectContaining({ line: 3, directive: 'RewriteEngine', message: expect.stringMatching(/mod_rewrite/) }),
    ]);
  });

  test('<IfModule> is true for implemented modules and false otherwise, ! inverts', () => {
    const cfg = parseApacheConfig(
      [
        '<IfModule mod_rewrite.c>', 'RewriteEngine On', 'RewriteRule ^ - [F]', '<Files x>', '</Files>', '</IfModule>',
        '<IfModule mod_headers.c>', 'Header set X-A 1', '</IfModule>',
        '<IfModule !mod_rewrite.c>', 'Header set X-B 1', '</IfModule>',
        '<IfModule !headers_module>', 'Nonsense', '</IfModule>',
      ].join('\n'),
      'f',
    );
    expect(cfg.problems).toEqual([]);
    expect((cfg.nodes as DirectiveNode[]).map((n) => n.args[1])).toEqual(['X-A', 'X-B']);
  });

  test('sections nest and carry their arguments', () => {
    const cfg = parseApacheConfig(
      '<FilesMatch "\\.(gif|png)$">\n<Limit POST put>\nRequire valid-user\n</Limit>\n</FilesMatch>\n<RequireAll>\nRequire not ip 10.0.0.0/8\nRequire all granted\n</RequireAll>',
      'f',
    );
    expect(cfg.problems).toEqual([]);
    const fm = cfg.nodes[0] as SectionNode;
    expect(fm.name).toBe('filesmatch');
    expect(fm.regex!.test('a.png')).toBe(true);
    expect((fm.children[0] as SectionNode).args).toEqual(['POST', 'PUT']);
  });

  test.each([
    ['<Files a>\nOptions None', /never closed/],
    ['</Files>', /without an open section/],
    ['<Files a>\n</FilesMatch>', /expected <\/Files>/],
    ['<Directory /x>\n</Directory>', /not allowed in .htaccess/],
    ['<Location /x>\n</Location>', /unsupported section/],
    ['<Limit GET>\nOptions None\n</Limit>', /only access directives/],
    ['<RequireAny>\nOrder allow,deny\n</RequireAny>', /only Require/],
    ['Require not ip 1.2.3.4', /negated Require/],
    ['Require host example.com', /not supported/],
    ['Allow from .example.com', /host names/],
    ['Options +Indexes ExecCGI', /either all/],
    ['Options +Includes', /not supported/],
    ['AddHandler php5-script .php', /not supported/],
    ['AuthType Digest', /only Basic/],
    ['AuthUserFile .htpasswd', /absolute/],
    ['ErrorDocument 200 /x', /error status/],
    ['Header set X-T "%t"', /format/],
    ['Header set X-T v env=foo', /conditions/],
    ['ExpiresDefault "access plus 1 fortnight"', /bad expiry/],
    ['Redirect 200 /a /b', /not a redirect/],
    ['RedirectMatch (unclosed /b', /regular expression/],
    ['Alias /x /y', /not allowed in .htaccess/],
    ['<FilesMatch "(">\n</FilesMatch>', /regular expression/],
  ])('%j is refused', (text, message) => {
    const cfg = parseApacheConfig(text, 'f');
    expect(cfg.problems).toEqual([expect.objectContaining({ file: 'f', message: expect.stringMatching(message) })]);
  });

  test('server config allows <Directory>, Alias and ScriptAlias at the top level only', () => {
    const ok = parseApacheConfig('<Directory "/opt/htdocs/x">\nOptions +ExecCGI\n</Directory>\nAlias /docs /opt/docs\nScriptAlias /bin/ /opt/bin/', 'c', 'config');
    expect(ok.problems).toEqual([]);
    const bad = parseApacheConfig('<Directory /x>\nAlias /a /b\n</Directory>', 'c', 'config');
    expect(bad.problems).toEqual([expect.objectContaining({ line: 2, message: expect.stringMatching(/top level/) })]);
  });

  test('every table entry names a module and its contexts', () => {
    for (const [name, spec] of Object.entries(DIRECTIVES)) {
      expect(name).toBe(name.toLowerCase());
      expect(spec.module).toMatch(/^(core|mod_\w+)$/);
      expect(spec.contexts.length).toBeGreaterThan(0);
      expect(spec.apply !== undefined || ['require', 'alias', 'scriptalias'].includes(name)).toBe(true);
    }
  });
});
