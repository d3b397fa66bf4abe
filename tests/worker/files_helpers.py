"""Images and uploads for the worker's file-job tests."""

from __future__ import annotations

import struct
import zlib
from io import BytesIO
from pathlib import Path

import httpx
from PIL import Image

HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def image(
    fmt: str, size: tuple[int, int] = (800, 600), color: str = "red", **save: object
) -> bytes:
    out = BytesIO()
    Image.new("RGB", size, color).save(out, fmt, **save)
    return out.getvalue()


def png(size: tuple[int, int] = (800, 600)) -> bytes:
    return image("PNG", size)


def rotated_jpeg() -> bytes:
    """800x400 pixels stored, EXIF orientation 6: shown turned a quarter, 400 wide, 800 high."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return image("JPEG", (800, 400), exif=exif.tobytes())


def animated_gif() -> bytes:
    """A red first frame, then blue ones."""
    frames = [Image.new("RGB", (400, 200), color) for color in ("red", "blue", "blue")]
    out = BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels, with a few rows of data: what a
    decompression bomb looks like to a decoder that trusts the header."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + 3 * min(width, 4096)) * 4)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", rows)
        + _chunk(b"IEND", b"")
    )


def decoded(data: bytes) -> Image.Image:
    picture = Image.open(BytesIO(data))
    picture.load()
    return picture


def files_under(root: Path) -> set[str]:
    """Every file in a local store, by key (staging files included)."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


async def upload(
    http: httpx.AsyncClient,
    base: str,
    headers: dict[str, str],
    task_id: str,
    name: str,
    body: bytes,
) -> dict[str, object]:
    made = await http.post(
        f"{base}/api/v1/tasks/{task_id}/attachments",
        params={"filename": name},
        content=body,
        headers={**headers, "Content-Type": "application/octet-stream"},
    )
    assert made.status_code == 201, made.text
    created: dict[str, object] = made.json()
    return created
