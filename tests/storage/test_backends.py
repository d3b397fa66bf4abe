"""The storage interface against real stores: a local directory and an S3 API (moto)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from taskboard.storage import (
    InvalidKey,
    ObjectNotFound,
    ObjectTooLarge,
    StorageError,
    open_storage,
)
from taskboard.storage.backend import BLOCK_BYTES, PART_BYTES
from tests.fixtures.s3 import S3Server
from tests.storage.conftest import Backend

MIB = 1 << 20
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def pattern(size: int, seed: int = 0) -> bytes:
    """Bytes that differ along the way, so a misplaced block changes the hash."""
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


async def chunked(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def generated(total: int, chunk: int = 256 * 1024) -> AsyncIterator[bytes]:
    """`total` bytes made as they are asked for: nothing held but one chunk."""
    piece = pattern(chunk, seed=7)
    sent = 0
    while sent < total:
        n = min(chunk, total - sent)
        yield piece[:n]
        sent += n


class SourceBroke(Exception):
    pass


async def breaking(after: int) -> AsyncIterator[bytes]:
    async for chunk in generated(after):
        yield chunk
    raise SourceBroke("the client went away")


async def read_all(backend: Backend, key: str) -> bytes:
    reader = await backend.storage.open_read(key)
    data = b"".join([chunk async for chunk in reader])
    assert len(data) == reader.size
    return data


@pytest.mark.parametrize(
    "size",
    [0, 1, 1000, BLOCK_BYTES, BLOCK_BYTES + 1, PART_BYTES + 3 * BLOCK_BYTES + 12_345],
    ids=["empty", "one-byte", "small", "one-block", "block-and-a-byte", "multipart"],
)
async def test_round_trip_counts_hashes_and_sniffs(backend: Backend, size: int) -> None:
    data = pattern(size)
    stored = await backend.storage.put_stream("boards/b1/a1", chunked(data), max_bytes=size)
    assert stored.key == "boards/b1/a1"
    assert stored.size == size
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert await read_all(backend, "boards/b1/a1") == data
    info = await backend.storage.head("boards/b1/a1")
    assert info is not None
    assert info.size == size
    assert backend.stored_keys() == ["boards/b1/a1"]
    assert backend.pending_uploads() == []


async def test_uneven_chunks_are_stored_in_order(backend: Backend) -> None:
    data = pattern(3 * MIB + 777, seed=3)

    async def uneven() -> AsyncIterator[bytes]:
        sizes = [1, 7, 65_536, 3 * MIB // 2, 13]
        start = 0
        i = 0
        while start < len(data):
            n = sizes[i % len(sizes)]
            yield data[start : start + n]
            start += n
            i += 1

    stored = await backend.storage.put_stream("k/uneven", uneven(), max_bytes=len(data))
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert await read_all(backend, "k/uneven") == data


@pytest.mark.parametrize(
    ("total", "cap"),
    [(5000, 4999), (3 * BLOCK_BYTES, 2 * BLOCK_BYTES + 5)],
    ids=["small", "several-blocks"],
)
async def test_a_stream_over_the_cap_raises_and_leaves_nothing(
    backend: Backend, total: int, cap: int
) -> None:
    with pytest.raises(ObjectTooLarge) as error:
        await backend.storage.put_stream("k/too-big", generated(total), max_bytes=cap)
    assert error.value.status == 413
    assert error.value.max_bytes == cap
    assert backend.stored_keys() == []
    assert backend.pending_uploads() == []
    assert not await backend.storage.exists("k/too-big")


async def test_the_cap_stops_reading_the_source(backend: Backend) -> None:
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 1
            yield b"x" * 1024

    with pytest.raises(ObjectTooLarge):
        await backend.storage.put_stream("k/endless", endless(), max_bytes=10 * 1024)
    assert pulled == 11  # the chunk that crossed the cap is the last one read
    assert backend.stored_keys() == []


async def test_exactly_the_cap_is_stored(backend: Backend) -> None:
    stored = await backend.storage.put_stream(
        "k/exact", generated(BLOCK_BYTES + 10), max_bytes=BLOCK_BYTES + 10
    )
    assert stored.size == BLOCK_BYTES + 10


async def test_over_the_cap_after_multipart_parts_were_sent_leaves_nothing(
    s3_backend: Backend,
) -> None:
    """Two 5 MiB parts are on the server before the cap is crossed: the upload is aborted."""
    cap = 2 * PART_BYTES + 3 * BLOCK_BYTES
    with pytest.raises(ObjectTooLarge):
        await s3_backend.storage.put_stream("k/big", generated(cap + MIB), max_bytes=cap)
    assert s3_backend.stored_keys() == []
    assert s3_backend.pending_uploads() == []


@pytest.mark.parametrize("after", [1000, 3 * BLOCK_BYTES + 5], ids=["first-block", "mid-stream"])
async def test_a_failing_source_leaves_nothing_and_its_error_is_raised(
    backend: Backend, after: int
) -> None:
    with pytest.raises(SourceBroke):
        await backend.storage.put_stream("k/broken", breaking(after), max_bytes=100 * MIB)
    assert backend.stored_keys() == []
    assert backend.pending_uploads() == []


async def test_a_cancelled_upload_leaves_nothing(backend: Backend) -> None:
    """The caller (a request whose client left) is cancelled while the source waits."""
    handed = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        async for chunk in generated(PART_BYTES + 2 * BLOCK_BYTES):
            yield chunk
        handed.set()
        await asyncio.Event().wait()  # never comes
        yield b""

    upload = asyncio.ensure_future(
        backend.storage.put_stream("k/cancelled", stalls(), max_bytes=100 * MIB)
    )
    await handed.wait()
    upload.cancel()
    with pytest.raises(asyncio.CancelledError):
        await upload
    await backend.storage.aclose()
    assert backend.stored_keys() == []
    assert backend.pending_uploads() == []


async def test_a_store_that_fails_raises_storage_error_and_leaves_nothing(
    s3_server: S3Server,
) -> None:
    settings = s3_server.settings("x")
    missing = settings.model_copy(update={"storage_url": "s3://no-such-bucket/x"})
    storage = open_storage(missing)
    for size in (10, PART_BYTES + 2 * BLOCK_BYTES):
        with pytest.raises(StorageError):
            await storage.put_stream("k/nowhere", generated(size), max_bytes=100 * MIB)
    await storage.aclose()


async def test_a_missing_object(backend: Backend) -> None:
    with pytest.raises(ObjectNotFound):
        await backend.storage.open_read("k/missing")
    assert await backend.storage.head("k/missing") is None
    assert not await backend.storage.exists("k/missing")
    await backend.storage.delete("k/missing")  # already gone: fine


async def test_delete_and_list(backend: Backend) -> None:
    keys = ["boards/b1/a", "boards/b1/b", "boards/b10/c", "boards/b2/d", "other/e"]
    for i, key in enumerate(keys):
        await backend.storage.put_stream(key, chunked(pattern(10 + i)), max_bytes=100)
    listed = {info.key: info for info in [i async for i in backend.storage.list("boards/b1")]}
    assert sorted(listed) == ["boards/b1/a", "boards/b1/b"]  # whole segments: not b10
    assert listed["boards/b1/b"].size == 11
    assert listed["boards/b1/a"].last_modified.tzinfo is not None
    everything = sorted([i.key async for i in backend.storage.list()])
    assert everything == sorted(keys)

    await backend.storage.delete("boards/b1/a")
    assert not await backend.storage.exists("boards/b1/a")
    assert await backend.storage.exists("boards/b1/b")
    assert sorted([i.key async for i in backend.storage.list("boards")]) == [
        "boards/b1/b",
        "boards/b10/c",
        "boards/b2/d",
    ]
    assert [i async for i in backend.storage.list("nothing/here")] == []


async def test_content_is_sniffed_whatever_the_name(backend: Backend) -> None:
    png = await backend.storage.put_stream("k/photo.png", chunked(PNG), max_bytes=MIB)
    assert png.content_type_sniffed == "image/png"
    html = await backend.storage.put_stream("k/evil.png", chunked(HTML), max_bytes=MIB)
    assert html.content_type_sniffed == "text/html"
    # Sniffed from the first bytes even when they come one at a time.
    slow = await backend.storage.put_stream("k/slow.png", chunked(HTML, size=1), max_bytes=MIB)
    assert slow.content_type_sniffed == "text/html"
    assert (await backend.storage.read_head("k/evil.png"))[:15] == HTML[:15]


async def test_read_can_stop_early(backend: Backend) -> None:
    await backend.storage.put_stream("k/long", generated(3 * MIB), max_bytes=3 * MIB)
    reader = await backend.storage.open_read("k/long")
    async for chunk in reader:
        assert chunk
        break
    await reader.aclose()


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/abs",
        "a//b",
        "a/./b",
        "a/../b",
        "../up",
        ".hidden",
        "a/b/",
        "a#1",
        "a b",
        "é",
        "x" * 513,
    ],
)
async def test_keys_outside_the_grammar_are_refused(backend: Backend, key: str) -> None:
    with pytest.raises(InvalidKey):
        await backend.storage.put_stream(key, chunked(b"x"), max_bytes=10)
    with pytest.raises(InvalidKey):
        await backend.storage.open_read(key)
    assert backend.stored_keys() == []


async def test_local_files_have_no_presigned_urls(local_backend: Backend) -> None:
    await local_backend.storage.put_stream("k/a", chunked(b"abc"), max_bytes=10)
    assert not local_backend.storage.can_presign
    url = await local_backend.storage.presigned_get(
        "k/a", ttl=timedelta(minutes=5), filename="a.txt"
    )
    assert url is None
    put = await local_backend.storage.presigned_put(
        "k/b", ttl=timedelta(minutes=5), content_length=3
    )
    assert put is None
