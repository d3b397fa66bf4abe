"""Content-Disposition for a download, with the file's own name (RFC 6266, RFC 8187)."""

from __future__ import annotations

import unicodedata
from typing import Literal
from urllib.parse import quote

Disposition = Literal["attachment", "inline"]

# RFC 8187 attr-char besides letters and digits: these stay as they are in filename*.
_ATTR_CHARS = "!#$&+-.^_`|~"


def safe_filename(filename: str) -> str:
    """The last path segment, without control characters; "download" when nothing is left."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return name or "download"


def content_disposition(disposition: Disposition, filename: str) -> str:
    """`attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`: the quoted name is
    an ASCII stand-in for old clients (anything else becomes `_`), filename* the real one."""
    if disposition not in ("attachment", "inline"):
        raise ValueError(f"disposition must be attachment or inline, not {disposition!r}")
    name = safe_filename(filename)
    fallback = "".join(ch if " " <= ch <= "~" and ch not in '"\\%' else "_" for ch in name)
    encoded = quote(name, safe=_ATTR_CHARS, encoding="utf-8")
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
