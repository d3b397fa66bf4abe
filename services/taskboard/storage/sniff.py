"""What a file really is, from its first bytes; its name and the uploader's claim are ignored.

Binary formats are recognized by their magic numbers through `filetype` (a table of matchers,
no dependencies; it calls a plain zip `application/zip` and an Office document by its own
type). Text is told from binary data by the WHATWG MIME Sniffing rule (no byte that a text
file never holds), and markup is looked for in text the way a browser would look for it, and
more eagerly: anything that could be rendered as HTML, SVG or XML is reported as such, so
that callers never offer it inline from taskboard's origin.
"""

from __future__ import annotations

import re
from typing import Final

import filetype

# Bytes sniffed: enough for every magic number and for markup after a long XML prolog.
SNIFF_BYTES: Final = 8192

OCTET_STREAM: Final = "application/octet-stream"
TEXT: Final = "text/plain"
HTML: Final = "text/html"
SVG: Final = "image/svg+xml"
XML: Final = "application/xml"

# Shown inline (an <img> on a card, a preview) only these: raster images that no browser
# runs. Everything else is served as an attachment.
INLINE_SAFE: Final = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# Types a browser would render as a document that can run script.
MARKUP: Final = frozenset({HTML, SVG, XML})

# WHATWG MIME Sniffing: bytes that never occur in text.
_BINARY_BYTES: Final = frozenset([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])
_WHITESPACE: Final = b"\t\n\x0c\r "
# The spec's HTML patterns (each followed by a space or '>'), case-insensitive.
_HTML_START: Final = re.compile(
    rb"<(?:!doctype\s+html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p"
    rb"|!--)(?:[\s>/]|$)",
    re.IGNORECASE,
)
# Anywhere in the sniffed bytes: tags that make a document active, whatever comes first.
_ACTIVE_TAG: Final = re.compile(
    rb"<(?:script|html|body|iframe|frameset|object|embed|meta|link|base|form|style)[\s>/]",
    re.IGNORECASE,
)
_SVG_TAG: Final = re.compile(rb"<svg[\s>/:]|<[a-z0-9_-]+:svg[\s>/]", re.IGNORECASE)
_XML_START: Final = re.compile(rb"<\?xml[\s?]", re.IGNORECASE)

# Formats whose files may be printable text from the first byte on.
_TEXTUAL_SIGNATURES: Final = frozenset({"application/pdf", "application/postscript"})

_UTF8_BOM: Final = b"\xef\xbb\xbf"
_UTF16_BOMS: Final = {b"\xfe\xff": "utf-16-be", b"\xff\xfe": "utf-16-le"}


def sniff(head: bytes) -> str:
    """The media type of content starting with `head` (give it the first SNIFF_BYTES)."""
    head = bytes(head[:SNIFF_BYTES])
    if not head:
        return TEXT  # an empty file is empty text: nothing in it can run
    for bom, encoding in _UTF16_BOMS.items():
        if head.startswith(bom):
            # UTF-16 text has zero bytes; read it as text to look for markup in it.
            text = head[2:].decode(encoding, errors="ignore").encode("utf-8", errors="ignore")
            return _markup(text) or TEXT
    text = head.removeprefix(_UTF8_BOM)
    binary = any(byte in _BINARY_BYTES for byte in text)
    if not head.startswith(_UTF8_BOM):
        kind = filetype.guess_mime(head)
        # Some signatures are two or three printable bytes ("BM", "MZ", "ID3"): content with
        # no binary byte at all is text that happens to start so. Real images, archives and
        # executables hold binary bytes in their first 8 KiB; PDF and PostScript may not.
        if kind and (binary or kind in _TEXTUAL_SIGNATURES):
            return str(kind)
    if binary:
        return OCTET_STREAM
    return _markup(text) or TEXT


def _markup(text: bytes) -> str | None:
    start = text.lstrip(_WHITESPACE)
    if _HTML_START.match(start):
        return HTML
    if _SVG_TAG.search(text):
        # An SVG document; an <svg> inside other text is HTML's inline SVG.
        return SVG if start.startswith(b"<") else HTML
    if _ACTIVE_TAG.search(text):
        return HTML
    if _XML_START.match(start):
        return XML
    return None


def inline_safe(content_type: str) -> bool:
    """Whether content of this sniffed type may be shown inline (images no browser runs)."""
    return content_type in INLINE_SAFE


def is_markup(content_type: str) -> bool:
    """HTML, SVG or XML: a browser given it as a document could run script."""
    return content_type in MARKUP
