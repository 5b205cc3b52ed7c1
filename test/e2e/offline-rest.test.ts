/**
 * The example site end to end through `serverless offline start --param=api=rest`:
 * every URL is under the /dev stage, and every link a page or script generates
 * must keep it. See test/support/site-e2e.ts.
 */
import { describeSite } from '../support/site-e2e';

describeSite('rest');
