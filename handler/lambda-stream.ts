import { createReadStream } from 'node:fs';
import type { EventFormat } from './events';
import type { HttpResponse } from './request';
import type { ResponseSink } from './stream';

/**
 * The response stream Lambda's Node.js runtime hands a streaming handler: the
 * writable half of an HTTP request to the runtime API, plus setContentType.
 */
export interface LambdaResponseStream {
  write(chunk: Uint8Array | string): boolean;
  end(callback?: () => void): void;
  once(event: string, listener: (...args: unknown[]) => void): unknown;
  removeListener(event: string, listener: (...args: unknown[]) => void): unknown;
  setContentType?(type: string): void;
  readonly destroyed?: boolean;
}

type Prelude = Record<string, unknown>;

/** The `awslambda` global of the Node.js runtime; absent in tests and under serverless-offline. */
interface AwsLambdaGlobal {
  streamifyResponse?<F>(handler: F): F;
  HttpResponseStream?: { from(stream: LambdaResponseStream, prelude: Prelude): LambdaResponseStream };
}

const runtime = () => (globalThis as { awslambda?: AwsLambdaGlobal }).awslambda;
const EMPTY = Buffer.alloc(0);
const PRELUDE_TYPE = 'application/vnd.awslambda.http-integration-response';

/** Marks a handler as streaming, through the runtime when there is one, or as it would. */
export function streamifyResponse<F extends object>(handler: F): F {
  const rt = runtime();
  if (rt?.streamifyResponse !== undefined) return rt.streamifyResponse(handler);
  return Object.assign(handler, { [Symbol.for('aws.lambda.runtime.handler.streaming')]: 'response' });
}

/** awslambda.HttpResponseStream.from, or the same bytes written by hand: the JSON prelude, then 8 NUL bytes. */
function withPrelude(stream: LambdaResponseStream, prelude: Prelude): LambdaResponseStream {
  const from = runtime()?.HttpResponseStream?.from;
  if (from !== undefined) return from(stream, prelude);
  stream.setContentType?.(PRELUDE_TYPE);
  stream.write(JSON.stringify(prelude));
  stream.write(new Uint8Array(8));
  return stream;
}

/** The front door's own answer shape without its body: statusCode, headers, cookies or multiValueHeaders. */
export function preludeOf(
  format: EventFormat,
  res: HttpResponse,
  event: Record<string, unknown>,
  warn: (message: string) => void,
): Prelude {
  const result = format.toResult({ ...res, body: EMPTY }, event, true, warn);
  delete result.body;
  delete result.isBase64Encoded;
  return result;
}

/** Writes that wait for 'drain' when the stream's buffer is full and fail once it is gone. */
export function responseSink(
  stream: LambdaResponseStream,
  prelude: (res: HttpResponse) => Prelude,
  maxBodyBytes: number,
): ResponseSink {
  let out = stream;
  return {
    maxBodyBytes,
    start(res) {
      out = withPrelude(stream, prelude(res));
      // The runtime writes the prelude with the first write: an empty one sends the headers now.
      out.write(EMPTY);
    },
    write(chunk) {
      if (out.destroyed) return Promise.reject(new Error('response stream closed'));
      if (out.write(chunk)) return;
      return new Promise<void>((resolve, reject) => {
        const done = (err?: unknown) => {
          out.removeListener('drain', done);
          out.removeListener('error', done);
          out.removeListener('close', done);
          if (err === undefined && !out.destroyed) resolve();
          else reject(err instanceof Error ? err : new Error('response stream closed'));
        };
        out.once('drain', done);
        out.once('error', done);
        out.once('close', done);
      });
    },
  };
}

export function endStream(stream: LambdaResponseStream, text?: string): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed) return resolve();
    if (text !== undefined) stream.write(text);
    stream.end(() => resolve());
  });
}

/** A static file's bytes, read from disk as the stream takes them. */
async function fromDisk(sink: ResponseSink, { path, start, length }: { path: string; start: number; length: number }): Promise<void> {
  if (length === 0) return;
  for await (const chunk of createReadStream(path, { start, end: start + length - 1 })) await sink.write(chunk as Buffer);
}

/** An answer that was not streamed (an error page, a redirect, a static file) sent whole. */
export async function sendWhole(sink: ResponseSink, stream: LambdaResponseStream, res: HttpResponse, head: boolean): Promise<void> {
  sink.start(res);
  try {
    if (head) {
      // Headers only.
    } else if (res.bodyFile !== undefined) {
      await fromDisk(sink, res.bodyFile);
    } else if (res.body.length > 0) {
      await sink.write(res.body);
    }
  } catch {
    // The client went away (or the file did); the status is gone, so the stream just ends.
  }
  await endStream(stream);
}
