/**
 * The example site end to end through `serverless offline start` (HTTP API,
 * the default front door): real HTTP from Node's fetch. See test/support/site-e2e.ts.
 */
import { describeSite } from '../support/site-e2e';

describeSite('http');
