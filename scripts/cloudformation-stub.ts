/**
 * A stand-in for the CloudFormation API, so that `serverless package` runs without
 * AWS credentials or network (npm run package:offline, and the packaging tests).
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StubRequest {
  method: string;
  url: string;
  action: string | undefined;
  body: string;
}

export interface CloudFormationStub {
  /** For AWS_ENDPOINT_URL_CLOUDFORMATION. */
  url: string;
  requests: StubRequest[];
  stop(): Promise<void>;
}

/**
 * A stand-in for the CloudFormation API that knows no stacks: DescribeStacks
 * answers "Stack with id X does not exist", as AWS does before the first deploy
 * (awsQuery protocol, which osls's SDK speaks). Any other action is refused
 * loudly, so that a packaging step starting to call AWS shows up in the test.
 */
export function startCloudFormationStub(): Promise<CloudFormationStub> {
  const requests: StubRequest[] = [];
  const server: Server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const action = new URLSearchParams(body).get('Action') ?? req.headers['x-amz-target']?.toString().split('.').pop();
      requests.push({ method: req.method ?? '', url: req.url ?? '', action, body });
      const known = action === 'DescribeStacks';
      const code = known ? 'ValidationError' : 'UnsupportedByStub';
      const message = known ? 'Stack with id X does not exist' : `the test stub does not implement ${action}`;
      res.writeHead(400, { 'content-type': 'text/xml' });
      res.end(
        `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type>` +
          `<Code>${code}</Code><Message>${message}</Message></Error><RequestId>stub</RequestId></ErrorResponse>`,
      );
    });
  });
  return new Promise((ok, fail) => {
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      ok({
        url: `http://127.0.0.1:${port}`,
        requests,
        stop: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
