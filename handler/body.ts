import { isAscii, isUtf8 } from 'node:buffer';

/** Types that are text whatever their charset label says; anything else goes back base64. */
const TEXT_TYPE =
  /^\s*(?:text\/[^;\s]+|application\/(?:json|javascript|ecmascript|xml|xhtml\+xml|x-www-form-urlencoded|x-javascript|[^;\s]+\+(?:json|xml))|image\/svg\+xml)\s*(?:;|$)/i;

export function isTextType(contentType: string | undefined): boolean {
  return contentType !== undefined && TEXT_TYPE.test(contentType);
}

/**
 * A body as a proxy result carries it: text stays a string when it is valid
 * UTF-8 (CGI.pm labels pages ISO-8859-1 that are plain ASCII), everything else
 * is base64 so that every byte survives.
 */
export function encodeBody(
  body: Buffer,
  contentType: string | undefined,
  contentEncoding: string | undefined,
): { body: string; isBase64Encoded: boolean } {
  if (body.length === 0) return { body: '', isBase64Encoded: false };
  if (contentEncoding === undefined && isTextType(contentType)) {
    // ASCII is the same string either way, and latin1 decodes it a few times faster.
    if (isAscii(body)) return { body: body.toString('latin1'), isBase64Encoded: false };
    if (isUtf8(body)) return { body: body.toString('utf8'), isBase64Encoded: false };
  }
  return { body: body.toString('base64'), isBase64Encoded: true };
}

/** Base64 alphabet (RFC 4648 §4) values; -1 for anything else, -2 for whitespace that may be skipped. */
const B64 = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;
for (const c of ' \t\n\r\f\v') B64[c.charCodeAt(0)] = -2;

/**
 * Whether `s` is base64 as the old regex accepted it (whitespace anywhere, up to
 * two '=' at the end, never a lone trailing character), in one pass, and the
 * text to decode: `s` itself, or `s` without its whitespace.
 */
function base64Text(s: string): string | undefined {
  let digits = 0;
  let pad = 0;
  let spaces = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? B64[c] : -1;
    if (v >= 0) {
      if (pad > 0) return undefined;
      digits++;
    } else if (v === -2) spaces = true;
    else if (c === 0x3d && pad < 2) pad++;
    else return undefined;
  }
  if ((digits + pad) % 4 === 1) return undefined;
  return spaces ? s.replace(/\s+/g, '') : s;
}

/** Whether base64 text can be checked natively: whole quads, and none of the URL-safe '-' and '_' that Node's decoder also takes. */
function nativelyCheckable(text: string): boolean {
  return text.length % 4 === 0 && !text.includes('-') && !text.includes('_');
}

/** What whole-quad text decodes to when it holds nothing but base64 and its final padding. */
function paddedLength(text: string): number {
  return (text.length / 4) * 3 - (text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0);
}

/** The slow path: whitespace and the rest looked at character by character. */
function decodeSlowly(text: string): Buffer | undefined {
  const compact = base64Text(text);
  return compact === undefined ? undefined : Buffer.from(compact, 'base64');
}

/**
 * Decodes a proxy event body; undefined when it claims base64 but is not.
 * Node's decoder skips characters outside the alphabet and stops at '=', so a
 * padded body that decodes to exactly its length's worth of bytes held nothing
 * else (only the URL-safe '-' and '_' also decode, and are looked for): front
 * doors send such bodies, checked natively, and only other input is walked
 * character by character.
 */
export function decodeBody(body: unknown, isBase64Encoded: unknown): Buffer | undefined {
  if (body === null || body === undefined || body === '') return Buffer.alloc(0);
  if (typeof body !== 'string') return undefined;
  if (isBase64Encoded !== true) return Buffer.from(body, 'utf8');
  if (nativelyCheckable(body)) {
    const decoded = Buffer.from(body, 'base64');
    if (decoded.length === paddedLength(body)) return decoded;
  }
  return decodeSlowly(body);
}

/** Base64 characters decoded at a time: 192 KiB of bytes, about what a socket buffer takes at once. */
const PIECE_CHARS = 256 * 1024;
/** Smaller bodies are decoded whole: one piece would be most of them anyway. */
const LAZY_MIN_CHARS = 2 * PIECE_CHARS;

/**
 * A large base64 request body, checked but kept encoded: the script's stdin
 * gets it decoded a piece at a time into memory reused piece after piece.
 * Every page a request writes after a fork costs a fault (the fork made them
 * copy-on-write), so decoding 5 MB into a buffer of its own took 3 ms here,
 * in pieces 0.3 ms.
 */
export class Base64Body {
  constructor(
    readonly text: string,
    /** Decoded bytes. */
    readonly length: number,
  ) {}

  /** How many pieces pieceInto() can give. */
  get pieceCount(): number {
    return Math.ceil(this.text.length / PIECE_CHARS);
  }

  /** Decodes piece `i` into `into` (from pieceBuffer()), returning the part that holds it. */
  pieceInto(i: number, into: Buffer): Buffer {
    return into.subarray(0, into.write(this.text.slice(i * PIECE_CHARS, (i + 1) * PIECE_CHARS), 'base64'));
  }
}

/** Memory for one decoded piece. */
export function pieceBuffer(): Buffer {
  return Buffer.allocUnsafe((PIECE_CHARS / 4) * 3);
}

/** A request body: bytes, or large base64 text decoded as it is read. */
export type RequestBody = Buffer | Base64Body;

/**
 * decodeBody's native check, a piece at a time: every piece decodes to exactly
 * its length's worth of bytes (only the last may end in padding), so the text
 * held nothing else. It fails exactly where decodeBody's would.
 */
function checkedBase64(text: string): Base64Body | undefined {
  if (!nativelyCheckable(text)) return undefined;
  const into = pieceBuffer();
  let length = 0;
  for (let at = 0; at < text.length; at += PIECE_CHARS) {
    const piece = text.slice(at, at + PIECE_CHARS);
    const n = into.write(piece, 'base64');
    if (n !== (at + PIECE_CHARS < text.length ? (piece.length / 4) * 3 : paddedLength(piece))) return undefined;
    length += n;
  }
  return new Base64Body(text, length);
}

/** A proxy event body as the request carries it: large base64 stays encoded until the script reads it. */
export function requestBody(body: unknown, isBase64Encoded: unknown): RequestBody | undefined {
  if (isBase64Encoded === true && typeof body === 'string' && body.length >= LAZY_MIN_CHARS) {
    // Where the native check failed, only the slow path can still accept the text.
    return checkedBase64(body) ?? decodeSlowly(body);
  }
  return decodeBody(body, isBase64Encoded);
}

/** Bytes JSON.stringify adds when escaping each byte of UTF-8 text ("\n", "\u0001"). */
const JSON_EXTRA = new Uint8Array(256);
for (let b = 0; b < 0x20; b++) JSON_EXTRA[b] = 5;
for (const c of '\b\t\n\f\r"\\') JSON_EXTRA[c.charCodeAt(0)] = 1;

/** Whether any byte of the 32-bit word is below 0x20, a '"' or a '\\' (the "haszero" bit trick). */
function mayEscape(x: number): number {
  const q = x ^ 0x22222222;
  const b = x ^ 0x5c5c5c5c;
  return (((x - 0x20202020) & ~x) | ((q - 0x01010101) & ~q) | ((b - 0x01010101) & ~b)) & 0x80808080;
}

/**
 * Length in bytes of `JSON.stringify(text.toString('utf8'))` without its quotes,
 * for valid UTF-8 `text`, counted in one pass instead of building the string
 * (valid UTF-8 has no lone surrogates, the only other thing JSON escapes). Four
 * bytes are tested at a time; only words that may hold an escape are counted bytewise.
 */
export function jsonTextBytes(text: Uint8Array): number {
  let extra = 0;
  let i = 0;
  const n = text.length;
  for (; i < n && (text.byteOffset + i) % 4 !== 0; i++) extra += JSON_EXTRA[text[i]];
  const words = n - i < 4 ? new Uint32Array(0) : new Uint32Array(text.buffer, text.byteOffset + i, (n - i) >>> 2);
  for (let w = 0; w < words.length; w++) {
    if (mayEscape(words[w]) === 0) continue;
    const at = i + w * 4;
    extra += JSON_EXTRA[text[at]] + JSON_EXTRA[text[at + 1]] + JSON_EXTRA[text[at + 2]] + JSON_EXTRA[text[at + 3]];
  }
  for (i += words.length * 4; i < n; i++) extra += JSON_EXTRA[text[i]];
  return n + extra;
}
