/**
 * The suites that run scripts, again with CGI_PERL_WORKER=off and
 * CGI_SPAWNER=off: every one of them must pass with the persistent Perl worker
 * and cgi-spawner (the default, as they run on their own) and with plain spawn
 * from Node only (here: a function without the wrapper layer, or with CGI_RLIMIT_*).
 */
process.env.CGI_PERL_WORKER = 'off';
process.env.CGI_SPAWNER = 'off';

describe('with CGI_PERL_WORKER=off and CGI_SPAWNER=off', () => {
  require('./process.test');
  require('./cgi-env.test');
  require('./route.test');
  require('./cgi-response.test');
  require('./binary.test');
});
