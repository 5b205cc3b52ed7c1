/**
 * The linear-time body helpers against the slow definitions they replace: the
 * old whitespace-stripping regex for base64 and JSON.stringify for escaped sizes.
 */
import { Base64Body, decodeBody, jsonTextBytes, pieceBuffer, requestBody } from '../handler/body';

/** The definition decodeBody must keep: what the regex accepted, decoded the same. */
function reference(body: string): Buffer | undefined {
  const compact = body.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) return undefined;
  return Buffer.from(compact, 'base64');
}

function random(seed: number) {
  return () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

describe('decodeBody (base64)', () => {
  it('agrees with the regex definition on 100000 random strings over a nasty alphabet', () => {
    const rnd = random(42);
    const alphabet = 'AQZaqz09+/=-_ \n\t*.QQQQé';
    let differ = 0;
    for (let n = 0; n < 100_000; n++) {
      let s = '';
      const len = 1 + Math.floor(rnd() * 12);
      for (let i = 0; i < len; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
      const want = reference(s);
      const got = decodeBody(s, true);
      if ((want === undefined) !== (got === undefined) || (want !== undefined && !want.equals(got!))) differ++;
    }
    expect(differ).toBe(0);
  });

  it.each([
    ['canonical', Buffer.from([0, 1, 2, 250, 251, 252, 253]).toString('base64'), [0, 1, 2, 250, 251, 252, 253]],
    ['unpadded', 'QQ', [0x41]],
    ['wrapped at 76 with CRLF', 'QUJD\r\nREVG', [0x41, 0x42, 0x43, 0x44, 0x45, 0x46]],
    ['non-zero trailing bits', 'QR==', [0x41]],
  ])('accepts %s', (_name, text, bytes) => {
    expect([...decodeBody(text, true)!]).toEqual(bytes);
  });

  it.each([['URL-safe alphabet', 'Q-__'], ['padding inside', 'QQ==QQ=='], ['three pads', 'QQ==='], ['one lone digit', 'QUJDR'], ['a star', 'QQ*Q']])(
    'refuses %s',
    (_name, text) => expect(decodeBody(text, true)).toBeUndefined(),
  );

  it('5 MB of random bytes round-trip', () => {
    const rnd = random(7);
    const bytes = Buffer.alloc(5 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = rnd() * 256;
    expect(decodeBody(bytes.toString('base64'), true)!.equals(bytes)).toBe(true);
  });
});

describe('requestBody (large base64 kept encoded)', () => {
  const rnd = random(11);
  const bytes = Buffer.alloc(3 * 1024 * 1024 + 7);
  for (let i = 0; i < bytes.length; i++) bytes[i] = rnd() * 256;
  const text = bytes.toString('base64');
  const piecesOf = (body: Base64Body) => {
    const out: Buffer[] = [];
    const into = pieceBuffer();
    for (let i = 0; i < body.pieceCount; i++) out.push(Buffer.from(body.pieceInto(i, into)));
    return Buffer.concat(out);
  };

  it('a large padded body stays text, and its pieces are exactly what decodeBody gives', () => {
    const body = requestBody(text, true);
    expect(body).toBeInstanceOf(Base64Body);
    expect(body!.length).toBe(bytes.length);
    expect(piecesOf(body as Base64Body).equals(bytes)).toBe(true);
  });

  it.each([
    ['a pad inside a later piece', text.slice(0, 700_000) + '==' + text.slice(700_002)],
    ['a URL-safe character', text.slice(0, 900_000) + '-' + text.slice(900_001)],
    ['a line break', text.slice(0, 600_000) + '\n' + text.slice(600_000)],
    ['a star at the end', text.slice(0, -4) + 'QQ*Q'],
  ])('with %s, it is the same as decodeBody (refused, or decoded whole)', (_name, odd) => {
    const got = requestBody(odd, true);
    expect(got).not.toBeInstanceOf(Base64Body);
    const want = decodeBody(odd, true);
    expect(got === undefined ? undefined : got.toString('hex')).toBe(want === undefined ? undefined : want.toString('hex'));
  });

  it('small bodies and text bodies are bytes as before', () => {
    expect(requestBody('QUJD', true)).toEqual(Buffer.from('ABC'));
    expect(requestBody('x'.repeat(2_000_000), false)).toEqual(Buffer.from('x'.repeat(2_000_000)));
  });
});

describe('jsonTextBytes', () => {
  const stringified = (b: Buffer) => Buffer.byteLength(JSON.stringify(b.toString('utf8'))) - 2;

  it('equals the stringified size for every single byte and for random ASCII at every alignment', () => {
    for (let b = 0; b < 0x80; b++) expect([b, jsonTextBytes(Buffer.from([b]))]).toEqual([b, stringified(Buffer.from([b]))]);
    const rnd = random(3);
    const backing = Buffer.alloc(4096);
    for (let n = 0; n < 3000; n++) {
      const off = Math.floor(rnd() * 8);
      const len = Math.floor(rnd() * 200);
      const text = backing.subarray(off, off + len);
      for (let i = 0; i < len; i++) text[i] = rnd() < 0.2 ? rnd() * 0x20 : rnd() * 0x80;
      expect(jsonTextBytes(text)).toBe(stringified(text));
    }
  });

  it('counts multi-byte UTF-8, U+2028 and quotes in a large text', () => {
    const text = Buffer.from('Grüße "quoted" \\ \u2028 tab\there \u0001\n'.repeat(50_000));
    expect(jsonTextBytes(text)).toBe(stringified(text));
  });
});
