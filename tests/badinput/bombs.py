"""Files built to exhaust a parser: many pages, huge pages, billions of pixels, a zip bomb."""

from __future__ import annotations

import struct
import zlib

import pymupdf

#: A PDF page's largest side allowed by the specification (200 inches), in points.
MAX_PAGE_PT = 14_400


def many_pages(pages: int) -> bytes:
    """A PDF of ``pages`` blank pages, written by hand (a few hundred kilobytes)."""
    kids = b" ".join(b"%d 0 R" % (3 + index) for index in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
    ]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"] * pages
    out, offsets = b"%PDF-1.7\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    return out + trailer + b"startxref\n%d\n%%%%EOF\n" % xref


def huge_page() -> bytes:
    """One 200 x 200 inch page with no text layer: an image stretched over all of it, so
    only rendering (at 200 dpi, 40 000 x 40 000 pixels) could read it."""
    doc = pymupdf.open()
    page = doc.new_page(width=MAX_PAGE_PT, height=MAX_PAGE_PT)
    pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 8, 8), False)
    pix.clear_with(200)
    page.insert_image(page.rect, pixmap=pix)
    data: bytes = doc.tobytes(deflate=True)
    doc.close()  # type: ignore[no-untyped-call]
    return data


def _deflated(block: bytes, times: int) -> bytes:
    """Raw deflate of ``block`` repeated ``times`` times, in the time of one block: a full
    flush makes each block's compressed form independent of the ones before it."""
    segment = zlib.compressobj(9, zlib.DEFLATED, -15)
    once = segment.compress(block) + segment.flush(zlib.Z_FULL_FLUSH)
    return once * times + zlib.compressobj(9, zlib.DEFLATED, -15).flush()


def _chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def png_bomb(side: int = 40_000) -> bytes:
    """A 1-bit ``side`` x ``side`` PNG of zeros: a few hundred kilobytes on the wire,
    ``side``² pixels (and gigabytes as RGB) if decoded."""
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    rows = b"\x00" * (1 + (side + 7) // 8) * 1000  # per row: filter byte + packed bits
    times = side // 1000
    adler = 1
    for _ in range(times):
        adler = zlib.adler32(rows, adler)
    stream = b"\x78\xda" + _deflated(rows, times) + struct.pack(">I", adler)
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + _chunk(b"IHDR", header) + _chunk(b"IDAT", stream) + _chunk(b"IEND", b"")


_CONTENT_TYPES = (
    b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'content-types"><Default Extension="xml" ContentType="application/xml"/></Types>'
)


def _entry(name: bytes, packed: bytes, crc: int, size: int, offset: int) -> tuple[bytes, bytes]:
    """A deflated member's local header + data, and its central directory record."""
    fields = struct.pack("<HHHHHIII", 20, 0, 8, 0, 0, crc, len(packed), size)
    local = b"PK\x03\x04" + fields + struct.pack("<HH", len(name), 0) + name + packed
    central = (
        b"PK\x01\x02"
        + struct.pack("<H", 20)
        + fields
        + struct.pack("<HHHHHI", len(name), 0, 0, 0, 0, 0)
        + struct.pack("<I", offset)
        + name
    )
    return local, central


def docx_bomb(unpacked: int = 1024**3, *, lie: bool = False) -> bytes:
    """A docx whose ``word/document.xml`` unpacks to ``unpacked`` bytes (1 GiB in ~1 MB).
    With ``lie`` the zip's directory claims the part is 1 kB: only reading finds out."""
    block = b" " * (1024 * 1024)
    times = unpacked // len(block)
    crc = 0
    for _ in range(times):
        crc = zlib.crc32(block, crc)
    members = [
        (
            b"[Content_Types].xml",
            zlib.compress(_CONTENT_TYPES, 9)[2:-4],
            zlib.crc32(_CONTENT_TYPES),
            len(_CONTENT_TYPES),
        ),
        (b"word/document.xml", _deflated(block, times), crc, 1024 if lie else times * len(block)),
    ]
    body, directory = b"", b""
    for name, packed, member_crc, size in members:
        local, central = _entry(name, packed, member_crc, size, len(body))
        body += local
        directory += central
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 2, 2, len(directory), len(body), 0)
    return body + directory + end
