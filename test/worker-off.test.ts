/**
 * The suites that run Perl scripts, again with CGI_PERL_WORKER=off: every one
 * of them must pass both with the persistent Perl worker (the default, as
 * they run on their own) and with plain spawn only (here).
 */
process.env.CGI_PERL_WORKER = 'off';

describe('with CGI_PERL_WORKER=off', () => {
  require('./process.test');
  require('./cgi-env.test');
  require('./route.test');
  require('./cgi-response.test');
});
