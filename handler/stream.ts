import { findHeaderEnd, parseCgiResponse, type ParseResult } from './cgi-response';
import type { HttpResponse } from './request';

/** Lambda's response streaming limit; past it the stream is ended. */
export const STREAM_MAX_BYTES = 200 * 1024 * 1024;

/** Where a streaming answer goes: status and headers once, then the body as it comes. */
export interface ResponseSink {
  /** Most body bytes the front door takes; the stream is ended there. */
  maxBodyBytes: number;
  start(res: HttpResponse): void;
  /** Resolves when the consumer can take more (backpressure); rejects when it has gone away. */
  write(chunk: Buffer): void | Promise<void>;
}

export interface ScriptStreamOptions {
  nph: boolean;
  head: boolean;
  /**
   * The gateway's decision for a finished header block: the status and headers
   * to send, and whether the script's own body follows them (a 304 or another
   * answer of the gateway's replaces it).
   */
  decide(res: HttpResponse, explicitStatus: boolean): { res: HttpResponse; scriptBody: boolean };
  warn(message: string): void;
}

/**
 * A script's stdout on its way to a streaming front door: held until the header
 * block is complete, then, when the gateway keeps the script's answer, status and
 * headers are sent and every later byte follows as it arrives. Anything else (bad
 * output, a local redirect, an answer replaced by the gateway) is held back for
 * the buffered path to parse once the script is done; its body is dropped.
 */
export class ScriptStream {
  /** Set once status and headers went out: the answer is the script's, whatever happens next. */
  started: HttpResponse | undefined;
  bodyBytes = 0;
  overLimit = false;
  readonly abort = new AbortController();
  private held: Buffer = Buffer.alloc(0);
  private holding = true;
  private bodyHeld = false;

  constructor(
    private readonly sink: ResponseSink,
    private readonly opts: ScriptStreamOptions,
  ) {}

  /** The runner's stdout sink. */
  readonly push = (chunk: Buffer): void | Promise<void> => {
    if (this.started !== undefined) return this.body(chunk);
    if (!this.holding) return;
    this.held = this.held.length === 0 ? chunk : Buffer.concat([this.held, chunk]);
    const found = findHeaderEnd(this.held);
    if (found === 'missing') return;
    this.holding = false;
    if (found === 'too-large') return;
    const headBytes = this.held.subarray(0, found.bodyStart);
    const parsed = parseCgiResponse(headBytes, { nph: this.opts.nph, head: this.opts.head, bodyFollows: true });
    const doc = documentOf(parsed);
    const decision = doc && this.opts.decide(doc.res, doc.explicitStatus);
    if (decision === undefined || !decision.scriptBody) {
      this.held = headBytes;
      this.bodyHeld = true;
      return;
    }
    for (const w of parsed.warnings) this.opts.warn(w);
    const rest = this.held.subarray(found.bodyStart);
    this.held = Buffer.alloc(0);
    this.started = decision.res;
    this.sink.start(decision.res);
    if (rest.length > 0) return this.body(rest);
  };

  /** What the buffered path is to parse when nothing was streamed: the output, or its header block alone. */
  heldOutput(): { stdout: Buffer; bodyDropped: boolean } {
    return { stdout: this.held, bodyDropped: this.bodyHeld };
  }

  private body(chunk: Buffer): void | Promise<void> {
    if (this.opts.head || this.overLimit) return;
    const max = this.sink.maxBodyBytes;
    if (this.bodyBytes + chunk.length > max) {
      chunk = chunk.subarray(0, max - this.bodyBytes);
      this.overLimit = true;
      this.abort.abort();
    }
    this.bodyBytes += chunk.length;
    return this.sink.write(chunk);
  }
}

function documentOf(parsed: ParseResult): { res: HttpResponse; explicitStatus: boolean } | undefined {
  if (!parsed.ok || parsed.response.kind !== 'document') return undefined;
  const { status, reason, headers, explicitStatus } = parsed.response;
  return { res: { status, reason, headers, body: Buffer.alloc(0) }, explicitStatus };
}
