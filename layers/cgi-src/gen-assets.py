#!/usr/bin/env python3
"""Regenerate the binary assets of the Acme Jobs example site.

    python3 gen-assets.py          # writes ../htdocs/logo.png and
                                   # ../cgi-bin/data/acme-brochure.pdf

Standard library only (zlib + struct); output is deterministic, so the
files can be committed and re-created byte for byte.
"""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

# 5x7 bitmap font, just the glyphs we need.
FONT = {
    'A': ["01110", "10001", "10001", "11111", "10001", "10001", "10001"],
    'C': ["01110", "10001", "10000", "10000", "10000", "10001", "01110"],
    'M': ["10001", "11011", "10101", "10101", "10001", "10001", "10001"],
    'E': ["11111", "10000", "10000", "11110", "10000", "10000", "11111"],
    'J': ["00111", "00010", "00010", "00010", "00010", "10010", "01100"],
    'O': ["01110", "10001", "10001", "10001", "10001", "10001", "01110"],
    'B': ["11110", "10001", "10001", "11110", "10001", "10001", "11110"],
    'S': ["01111", "10000", "10000", "01110", "00001", "00001", "11110"],
    ' ': ["00000"] * 7,
}


def png_chunk(kind, data):
    c = struct.pack('>I', len(data)) + kind + data
    return c + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)


def make_logo(w=160, h=48):
    navy, orange, white, clear = (31, 58, 104, 255), (245, 130, 32, 255), (255, 255, 255, 255), (0, 0, 0, 0)
    px = [[navy for _ in range(w)] for _ in range(h)]
    # rounded corners (radius 6)
    r = 6
    for y in range(h):
        for x in range(w):
            cx = r if x < r else (w - 1 - r if x > w - 1 - r else x)
            cy = r if y < r else (h - 1 - r if y > h - 1 - r else y)
            if (x - cx) ** 2 + (y - cy) ** 2 > r * r:
                px[y][x] = clear
    # briefcase icon: handle + body + clasp
    for y in range(12, 17):
        for x in range(15, 27):
            if y == 12 or x in (15, 16, 25, 26):
                px[y][x] = orange
    for y in range(17, 36):
        for x in range(8, 34):
            px[y][x] = orange
    for x in range(8, 34):
        px[24][x] = navy
    for y in range(22, 28):
        for x in range(19, 23):
            px[y][x] = white
    # text, 2x scaled 5x7 glyphs
    x0, y0, s = 42, 17, 2
    for ch in "ACME JOBS":
        g = FONT[ch]
        for gy, row in enumerate(g):
            for gx, bit in enumerate(row):
                if bit == '1':
                    for dy in range(s):
                        for dx in range(s):
                            px[y0 + gy * s + dy][x0 + gx * s + dx] = white
        x0 += 6 * s if ch != ' ' else 4 * s
    raw = b''.join(b'\x00' + bytes(v for p in row for v in p) for row in px)
    return (b'\x89PNG\r\n\x1a\n'
            + png_chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 6, 0, 0, 0))
            + png_chunk(b'tEXt', b'Software\x00Acme Jobs gen-assets.py')
            + png_chunk(b'IDAT', zlib.compress(raw, 9))
            + png_chunk(b'IEND', b''))


def pdf_escape(s):
    return s.replace('\\', '\\\\').replace('(', '\\(').replace(')', '\\)')


def make_pdf():
    lines = [
        (24, "Acme Jobs - Employer Brochure"),
        (12, ""),
        (12, "Post your openings where the job seekers are."),
        (12, ""),
        (12, "* Over 50 open positions in engineering, design, sales and more"),
        (12, "* Listings stay online for 30 days"),
        (12, "* Applications delivered straight to your recruiters"),
        (12, "* Powered by battle-tested CGI technology since 1999"),
        (12, ""),
        (12, "Standard listing ........ $99 / 30 days"),
        (12, "Featured listing ........ $249 / 30 days"),
        (12, ""),
        (10, "Acme Jobs, Inc. - 123 Main Street, Springfield. All listings are fictional."),
    ]
    ops = ["0.122 0.227 0.408 rg 0 742 612 50 re f",       # navy band
           "0.961 0.510 0.125 rg 0 738 612 4 re f",        # orange rule
           "BT 1 1 1 rg /F1 28 Tf 54 756 Td (ACME JOBS) Tj ET",
           "BT 0 0 0 rg 54 700 Td"]
    for size, text in lines:
        ops.append("/F1 %d Tf (%s) Tj 0 -%d Td" % (size, pdf_escape(text), size + 10))
    ops.append("ET")
    stream = zlib.compress(("\n".join(ops) + "\n").encode('latin-1'), 9)
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Title (Acme Jobs Employer Brochure) /Producer (gen-assets.py) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += (b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objs) + 1, xref))
    return bytes(out)


def write(rel, data):
    path = os.path.normpath(os.path.join(HERE, rel))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)
    print("wrote %s (%d bytes)" % (path, len(data)))


if __name__ == '__main__':
    write('../htdocs/logo.png', make_logo())
    write('../cgi-bin/data/acme-brochure.pdf', make_pdf())
