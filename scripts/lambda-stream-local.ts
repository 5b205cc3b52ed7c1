/**
 * Lambda response streaming on this machine: a stand-in for the Node.js
 * runtime's `awslambda` global (streamifyResponse, HttpResponseStream.from and
 * the response stream with its prelude-on-first-write), and the decoding a
 * Function URL does on the other side (JSON prelude, 8 NUL bytes, then the body).
 * `npm run start:stream` serves the site through it; the tests use it to drive
 * the real bundle's streamHandler.
 */
import { Writable } from 'node:stream';

export const PRELUDE_TYPE = 'application/vnd.awslambda.http-integration-response';
const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const DELIMITER = Buffer.alloc(8);

export interface Prelude {
  statusCode?: number;
  headers?: Record<string, string>;
  multiValueHeaders?: Record<string, string[]>;
  cookies?: string[];
  [key: string]: unknown;
}

/**
 * The runtime's response stream: a Writable whose bytes go to `wire` as they are
 * written (with the wire's backpressure), whose content type can be set until
 * the first write, and which runs `_onBeforeFirstWrite` once, as Lambda's does.
 */
export class ResponseStream extends Writable {
  contentType = 'application/octet-stream';
  _onBeforeFirstWrite?: (write: (chunk: Uint8Array | string) => void) => void;
  private written = false;

  constructor(private readonly wire: (chunk: Buffer, done: (err?: Error) => void) => void) {
    super();
  }

  setContentType(type: string): void {
    if (this.written) throw new Error('Cannot set content-type, too late.');
    this.contentType = type;
  }

  override write(chunk: unknown, ...rest: unknown[]): boolean {
    if (!this.written) {
      this.written = true;
      // Through Writable.prototype.write: the prelude is queued ahead of the first chunk.
      this._onBeforeFirstWrite?.((c) => super.write(c));
    }
    return (super.write as (...a: unknown[]) => boolean)(chunk, ...rest);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.wire(chunk, (err) => done(err ?? null));
  }
}

export interface AwsLambdaStandIn {
  streamifyResponse<F extends object>(handler: F): F;
  HttpResponseStream: { from(stream: ResponseStream, prelude: Prelude): ResponseStream };
}

export const awslambda: AwsLambdaStandIn = {
  streamifyResponse(handler) {
    return Object.assign(handler, { [STREAMING]: 'response' });
  },
  HttpResponseStream: {
    from(stream, prelude) {
      stream.setContentType(PRELUDE_TYPE);
      const json = JSON.stringify(prelude);
      stream._onBeforeFirstWrite = (write) => {
        write(json);
        write(new Uint8Array(DELIMITER.length));
      };
      return stream;
    },
  },
};

/** Installs the stand-in as the runtime does, before the handler is loaded or called. */
export function installAwsLambda(): void {
  (globalThis as { awslambda?: AwsLambdaStandIn }).awslambda = awslambda;
}

export type StreamingHandler = (event: unknown, stream: ResponseStream, context: object) => Promise<void>;

export interface StreamedAnswer {
  statusCode: number;
  /** Header lines as a Function URL would send them, Set-Cookie one line each. */
  headers: Array<[string, string]>;
  prelude: Prelude;
}

/**
 * What a Function URL does with a streamed answer: waits for the prelude and its
 * delimiter, calls `onHead`, then hands each later byte to `onBody` as it comes.
 * A stream of any other content type is a body of its own (a 200 of that type).
 */
export class PreludeDecoder {
  private buffered = Buffer.alloc(0);
  private headDone = false;

  constructor(
    private readonly contentType: () => string,
    private readonly onHead: (answer: StreamedAnswer) => void,
    private readonly onBody: (chunk: Buffer, done: (err?: Error) => void) => void,
  ) {}

  push(chunk: Buffer, done: (err?: Error) => void): void {
    if (this.headDone) return this.onBody(chunk, done);
    if (this.contentType() !== PRELUDE_TYPE) {
      this.head({ statusCode: 200, headers: { 'content-type': this.contentType() } });
      return this.onBody(chunk, done);
    }
    this.buffered = Buffer.concat([this.buffered, chunk]);
    const at = this.buffered.indexOf(DELIMITER);
    if (at < 0) return done();
    const prelude = JSON.parse(this.buffered.subarray(0, at).toString('utf8')) as Prelude;
    const rest = this.buffered.subarray(at + DELIMITER.length);
    this.buffered = Buffer.alloc(0);
    this.head(prelude);
    if (rest.length > 0) this.onBody(rest, done);
    else done();
  }

  /** At the end of the stream: a prelude never completed means no answer at all. */
  get answered(): boolean {
    return this.headDone;
  }

  private head(prelude: Prelude): void {
    this.headDone = true;
    const headers: Array<[string, string]> = [];
    for (const [k, v] of Object.entries(prelude.headers ?? {})) headers.push([k, v]);
    for (const [k, vs] of Object.entries(prelude.multiValueHeaders ?? {})) for (const v of vs) headers.push([k, v]);
    for (const c of prelude.cookies ?? []) headers.push(['set-cookie', c]);
    this.onHead({ statusCode: prelude.statusCode ?? 200, headers, prelude });
  }
}

/**
 * Invokes a streaming handler as the runtime would, the answer decoded as a
 * Function URL would decode it. Resolves when the handler is done and the stream ended.
 */
export async function invokeStreaming(
  handler: StreamingHandler,
  event: unknown,
  context: object,
  onHead: (answer: StreamedAnswer) => void,
  onBody: (chunk: Buffer, done: (err?: Error) => void) => void,
): Promise<{ answered: boolean }> {
  let decoder: PreludeDecoder | undefined = undefined;
  const stream: ResponseStream = new ResponseStream((chunk, done) => decoder!.push(chunk, done));
  decoder = new PreludeDecoder(() => stream.contentType, onHead, onBody);
  const finished = new Promise<void>((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', reject);
  });
  // A failed stream (the client went away) is reported after the handler has returned.
  finished.catch(() => {});
  await handler(event, stream, context);
  await finished;
  return { answered: decoder.answered };
}
