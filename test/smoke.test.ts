import { answerOf, httpApiEvent } from './support/events';
import { cleanup, harness, makeTree, parseEnv0, PRINTENV_SH } from './support/site';

describe('smoke', () => {
  let root: string;
  beforeAll(() => {
    root = makeTree({ 'cgi-bin/env.sh': PRINTENV_SH });
  });
  afterAll(() => cleanup(root));

  it('runs a shell script and returns its environment', async () => {
    const h = harness({ CGI_ROOT: `${root}/cgi-bin` });
    const res = answerOf(await h.invoke(httpApiEvent({ path: '/cgi-bin/env.sh/a%20b', query: 'x=1' })));
    expect(res.status).toBe(200);
    const env = parseEnv0(res.body);
    expect(env.PATH_INFO).toBe('/a b');
    expect(env.QUERY_STRING).toBe('x=1');
    expect(h.out).toHaveLength(1);
  });
});
