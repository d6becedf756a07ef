"""Bytes of a text-like upload to the text LightRAG indexes (run off the event loop)."""

from __future__ import annotations

import codecs
from html.parser import HTMLParser

from charset_normalizer import from_bytes

_BOM_CODECS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: Charset detection looks at this much of a large file; the whole file is then decoded.
_SAMPLE_BYTES = 256 * 1024
_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "svg"})
_BLOCK_TAGS = frozenset(
    {
        "p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "header",
        "footer", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "hr", "title",
        "td", "th", "dd", "dt",
    }
)  # fmt: skip


def detect_charset(data: bytes) -> str:
    """The charset of ``data``: a BOM, else UTF-8 if it decodes, else charset-normalizer's."""
    for bom, name in _BOM_CODECS:
        if data.startswith(bom):
            return name
    sample = data[:_SAMPLE_BYTES]
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if len(data) > _SAMPLE_BYTES and exc.start >= len(sample) - 3:
            return "utf-8"
    best = from_bytes(sample).best()
    return best.encoding if best is not None else "utf-8"


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML document, one line per block element."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def decode_document(data: bytes, content_type: str) -> str:
    """The text of a text-like document (HTML reduced to its visible text)."""
    text = data.decode(detect_charset(data), errors="replace")
    text = text.replace("\x00", "")
    if content_type == "text/html":
        return html_to_text(text)
    return text
