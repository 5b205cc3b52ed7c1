/**
 * npm run start:stream: the site behind a local stand-in for a Function URL with
 * InvokeMode RESPONSE_STREAM, so streaming can be seen on this machine
 * (serverless-offline loads streaming handlers but buffers their answers). Each
 * HTTP request becomes the Function URL event AWS would send; the bundle's
 * streamHandler runs with a stand-in for the runtime's `awslambda` global, and
 * every chunk it writes goes to the client as it comes.
 *
 *   npm run start:stream                  http://localhost:3000/
 *   PORT=8080 npm run start:stream
 *   curl -N http://localhost:3000/cgi-bin/...   (-N: print chunks as they arrive)
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { functionUrlEvent, type ClientRequest } from './proxy-events';
import { installAwsLambda, invokeStreaming, type StreamingHandler } from './lambda-stream-local';

const FUNCTION_TIMEOUT_MS = 29_000;
const GONE = 'the client went away';

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** An HTTP server whose every request is one invocation of `handler`, streamed back. */
export function createStreamServer(handler: StreamingHandler, timeoutMs = FUNCTION_TIMEOUT_MS): Server {
  return createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const body = await readBody(req);
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = v;
    headers['x-forwarded-proto'] = 'http';
    const client: ClientRequest = {
      method: req.method,
      path: url.pathname,
      query: url.search.slice(1),
      headers,
      body: body.length > 0 ? body : undefined,
      sourceIp: req.socket.remoteAddress?.replace(/^::ffff:/, ''),
    };
    const requestId = randomUUID();
    const event = functionUrlEvent(client, { requestId });
    const deadline = Date.now() + timeoutMs;
    const context = { awsRequestId: requestId, getRemainingTimeInMillis: () => deadline - Date.now() };
    try {
      const { answered } = await invokeStreaming(
        handler,
        event,
        context,
        (answer) => {
          for (const [name, value] of answer.headers) res.appendHeader(name, value);
          res.writeHead(answer.statusCode);
          res.flushHeaders();
        },
        (chunk, done) => {
          if (res.destroyed) return done(new Error(GONE));
          if (res.write(chunk)) return done();
          const onDrain = () => {
            res.off('close', onClose);
            done();
          };
          const onClose = () => {
            res.off('drain', onDrain);
            done(new Error(GONE));
          };
          res.once('drain', onDrain);
          res.once('close', onClose);
        },
      );
      if (!answered && !res.headersSent) res.writeHead(502);
    } catch (err) {
      if ((err as Error).message === GONE) return;
      console.error(`stream-server: the invocation failed: ${(err as Error).stack ?? err}`);
      if (!res.headersSent) res.writeHead(502);
    }
    res.end();
  });
}

async function main() {
  process.env.IS_OFFLINE ??= 'true';
  // Unlike serverless-offline this front door keeps trailing slashes, so the redirect works.
  process.env.CGI_DIRECTORY_SLASH ||= 'on';
  process.env.CGI_ENV_PERL_BADLANG ??= '0';
  installAwsLambda();
  const { streamHandler } = require(join(__dirname, '..', 'dist', 'handler.js')) as { streamHandler: StreamingHandler };
  const port = Number(process.env.PORT ?? 3000);
  const server = createStreamServer(streamHandler);
  server.listen(port, () => {
    const { port: bound } = server.address() as AddressInfo;
    console.log(`lambda-cgi streaming (Function URL stand-in) on http://localhost:${bound}/`);
  });
}

if (require.main === module) void main();
