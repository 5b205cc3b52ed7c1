/**
 * The example site through serverless-offline with CGI_PERL_WORKER=off: the
 * same pages, byte for byte the same checks, by plain spawn only.
 */
import { describeSite } from '../support/site-e2e';

describeSite('http', { perlWorker: 'off' });
