"""What a file is, from its bytes alone; and the Content-Disposition it is served with."""

from __future__ import annotations

import io
import zipfile

import pytest

from taskboard.storage import content_disposition, inline_safe, is_markup, safe_filename, sniff


def zipped(**files: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name.replace("__", "/"), text)
    return buffer.getvalue()


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01", "image/jpeg"),
        (b"\xff\xd8\xff\xe1\x00\x18Exif\x00\x00", "image/jpeg"),
        (b"GIF89a\x01\x00\x01\x00\x80\x00\x00", "image/gif"),
        (b"GIF87a\x01\x00\x01\x00\x80\x00\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00", "image/webp"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "application/pdf"),
        (zipped(notes__a_txt="hello"), "application/zip"),
        (
            zipped(**{"[Content_Types].xml": "<x/>", "word__document.xml": "<x/>"}),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", "application/gzip"),
    ],
    ids=["png", "jpeg-jfif", "jpeg-exif", "gif89", "gif87", "webp", "pdf", "zip", "docx", "gzip"],
)
def test_binary_formats_by_their_magic_numbers(head: bytes, expected: str) -> None:
    assert sniff(head) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"<!DOCTYPE html><html><body>hi</body></html>",
        b"<!doctype HTML>\n<title>x</title>",
        b"  \r\n\t<html><script>alert(1)</script>",
        b"<script>alert(document.cookie)</script>",
        b"<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
        b"<iframe src=javascript:alert(1)>",
        b"<!-- a comment --><p>text",
        b"<a href='x'>link</a>",
        b"<body onload=alert(1)>",
        b"\xef\xbb\xbf<html><body>with a UTF-8 BOM</body></html>",
        "\ufeff<html><script>alert(1)</script>".encode("utf-16-le"),
        "\ufeff<html><script>alert(1)</script>".encode("utf-16-be"),
        b"Some notes first, then <script>alert(1)</script>",
        b'<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><script/></html>',
        b"hello <svg onload=alert(1)>",
    ],
)
def test_html_is_recognized_however_it_starts(head: bytes) -> None:
    assert sniff(head) == "text/html"
    assert is_markup(sniff(head))
    assert not inline_safe(sniff(head))


@pytest.mark.parametrize(
    "head",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b'<?xml version="1.0" encoding="UTF-8"?>\n<!-- Generator: x -->\n'
        b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x.dtd">\n<svg width="1"></svg>',
        b"  <svg>",
        b'<?xml version="1.0"?><svg:svg xmlns:svg="http://www.w3.org/2000/svg"/>',
    ],
)
def test_svg_is_recognized(head: bytes) -> None:
    assert sniff(head) == "image/svg+xml"
    assert is_markup(sniff(head))
    assert not inline_safe(sniff(head))


def test_xml_is_recognized() -> None:
    assert sniff(b'<?xml version="1.0"?><feed><entry/></feed>') == "application/xml"
    assert is_markup("application/xml")


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"hello world\nsecond line\n",
        b"name,count\nada,3\n",
        "Grüße, ½ € — ünïcødé".encode(),
        b"\xef\xbb\xbfwith a BOM",
        "\ufeffUTF-16 text".encode("utf-16-le"),
        b"I <3 this: a < b and c > d",
        b'{"json": [1, 2, 3]}',
        # Printable text that starts like a short signature (BMP, DOS executable, MP3, Flash).
        b"BMW service notes\n",
        b"MZ is her nickname\n",
        b"ID3 tags explained\n",
        b"CWS meeting minutes",
    ],
)
def test_plain_text(head: bytes) -> None:
    assert sniff(head) == "text/plain"
    assert not is_markup("text/plain")


@pytest.mark.parametrize(
    "head",
    [b"\x00\x01\x02\x03binary", b"text then a NUL\x00", bytes(range(256)), b"\x7fELF\x01"],
)
def test_binary_data_that_is_nothing_known(head: bytes) -> None:
    assert sniff(head) in ("application/octet-stream", "application/x-executable")


def test_only_raster_images_are_inline_safe() -> None:
    for kind in ("image/png", "image/jpeg", "image/gif", "image/webp"):
        assert inline_safe(kind)
    for kind in ("image/svg+xml", "text/html", "application/pdf", "text/plain", "application/xml"):
        assert not inline_safe(kind)


def test_a_text_only_gif_header_does_not_hide_html() -> None:
    # A real GIF has binary bytes right after its signature; this is HTML in disguise.
    assert sniff(b"GIF89a<html><script>alert(1)</script>") == "text/html"
    assert sniff(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n") == "application/pdf"


def test_a_png_signature_followed_by_html_is_a_png() -> None:
    # Served as image/png with nosniff, a browser only ever decodes it as an image.
    assert sniff(PNG + b"<html><script>alert(1)</script>") == "image/png"


def test_content_disposition() -> None:
    assert content_disposition("attachment", "report.pdf") == (
        "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
    )
    assert content_disposition("inline", "Résumé 2026.png") == (
        "inline; filename=\"R_sum_ 2026.png\"; filename*=UTF-8''R%C3%A9sum%C3%A9%202026.png"
    )
    quoted = content_disposition("attachment", 'a"b;c%.txt')
    assert quoted == "attachment; filename=\"a_b;c_.txt\"; filename*=UTF-8''a%22b%3Bc%25.txt"


def test_content_disposition_cannot_carry_header_injection_or_paths() -> None:
    value = content_disposition("attachment", "a\r\nSet-Cookie: x=1\r\n.txt")
    assert "\r" not in value
    assert "\n" not in value
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\Users\\me\\file.txt") == "file.txt"
    assert safe_filename("   ") == "download"
    assert safe_filename("dir/") == "download"
    with pytest.raises(ValueError, match="disposition"):
        content_disposition("form-data", "x")  # type: ignore[arg-type]
