"""The zip export, streamed: `board.json` first, then each file as storage hands it over.

The standard library's zipfile writes to any object with `write()`; given one that cannot
`tell()`, it writes each entry's sizes and CRC after its data (a data descriptor, which every
unzip reads), so nothing is ever seeked back to. Each write lands in a small buffer that is
drained and sent after every chunk: memory stays at one storage chunk, no temporary file, and
the first bytes leave at once. zipstream-ng does the same but pulls its data from synchronous
iterators; storage reads are async, so it would need a thread per download to bridge them."""

from __future__ import annotations

import re
import time
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable

from taskboard.storage import ObjectNotFound, ReadStream
from taskboard.transfer.document import BoardDocument

ZIP64_FROM = 1 << 31  # entries this large or larger are written as zip64


class _Pipe:
    """The zip's output: bytes collect here until the generator hands them on."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def drain(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def entry_name(index: int, filename: str) -> str:
    """`files/<n>-<name>`: unique, and no name can climb out of the folder it unzips to."""
    safe = re.sub(r"[^\w.\- ]+", "_", filename).strip(" .") or "file"
    return f"files/{index:05d}-{safe[:200]}"


async def stream(
    document: BoardDocument,
    keys: dict[tuple[int, int], str],
    open_read: Callable[[str], Awaitable[ReadStream]],
) -> AsyncIterator[bytes]:
    """The zip's bytes. Each attachment of the document gets its `path`; a file storage no
    longer has is listed in `missing-files.txt` instead (the answer has started by then)."""
    entries: list[tuple[str, str]] = []
    for t, task in enumerate(document.tasks):
        for a, attachment in enumerate(task.attachments):
            if (t, a) in keys:
                path = entry_name(len(entries) + 1, attachment.filename)
                attachment.path = path
                entries.append((path, keys[(t, a)]))
    pipe = _Pipe()
    archive = zipfile.ZipFile(pipe, mode="w", allowZip64=True)
    archive.writestr(
        zipfile.ZipInfo("board.json", date_time=_now()),
        document.model_dump_json(indent=2),
        compress_type=zipfile.ZIP_DEFLATED,
    )
    yield pipe.drain()
    missing: list[str] = []
    for path, key in entries:
        try:
            reader = await open_read(key)
        except ObjectNotFound:
            missing.append(path)
            continue
        info = zipfile.ZipInfo(path, date_time=_now())
        info.compress_type = zipfile.ZIP_STORED  # images and documents are compressed already
        info.file_size = reader.size
        try:
            with archive.open(info, mode="w", force_zip64=reader.size >= ZIP64_FROM) as target:
                async for chunk in reader:
                    target.write(chunk)
                    if len(pipe.buffer) >= 1 << 16:
                        yield pipe.drain()
        finally:
            await reader.aclose()  # the client went away mid-file: stop reading the store
        yield pipe.drain()
    if missing:
        archive.writestr("missing-files.txt", "\n".join(missing) + "\n")
    archive.close()
    yield pipe.drain()


def _now() -> tuple[int, int, int, int, int, int]:
    year, month, day, hour, minute, second = time.gmtime()[:6]
    return year, month, day, hour, minute, second
