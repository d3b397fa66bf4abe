"""Files in a local directory or an S3-compatible bucket, through obstore, behind one small
async interface. Keys are chosen by callers (never by uploaders) and never reused."""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import hashlib
import logging
import re
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import urlsplit

import obstore
from obstore.store import LocalStore, S3Store

from taskboard.core.config import Settings, StorageLocation
from taskboard.storage.disposition import Disposition, content_disposition
from taskboard.storage.errors import (
    InvalidKey,
    ObjectNotFound,
    ObjectTooLarge,
    StorageError,
    StorageNotConfigured,
)
from taskboard.storage.presign import S3Signer
from taskboard.storage.sniff import SNIFF_BYTES, sniff

if TYPE_CHECKING:
    from obstore.store import S3Config

log = logging.getLogger("taskboard.storage")

# The stream is handed to obstore in blocks of this size; a file that ends within the first
# block is stored with one plain request (no multipart upload).
BLOCK_BYTES: Final = 1 << 20
# Multipart part size (S3's minimum for every part but the last) and parts in flight: what
# one upload holds in memory is about BLOCK_BYTES + PART_BYTES * (PARTS_IN_FLIGHT + 1).
PART_BYTES: Final = 5 << 20
PARTS_IN_FLIGHT: Final = 2
READ_CHUNK_BYTES: Final = 1 << 20
MAX_KEY_LENGTH: Final = 512
# Segments of letters, digits, '.', '_' and '-', each starting with a letter or digit: no
# empty, '.' or '..' segment, no leading '/', and no '#' (the local store's staging files).
_KEY: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*")
# What obstore's local store names a file while it is being written: `<key>#<n>`.
_STAGING: Final = re.compile(r"#\d+$")


def check_key(key: str) -> str:
    if len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise InvalidKey(
            f"invalid storage key {key[:80]!r}: '/'-separated segments of letters, digits, "
            f"'.', '_' and '-', each starting with a letter or digit, at most {MAX_KEY_LENGTH}"
        )
    return key


@dataclass(frozen=True)
class Stored:
    """What put_stream wrote: counted, hashed and sniffed as it streamed past."""

    key: str
    size: int
    sha256: str  # hex
    content_type_sniffed: str  # from the first bytes (storage.sniff), never from a name


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    last_modified: datetime
    etag: str | None = None


@dataclass
class ReadStream:
    """An object being read: its size, then its bytes as they arrive (`async for`); aclose()
    when stopping before the end."""

    key: str
    size: int
    _chunks: AsyncGenerator[bytes, None] = field(repr=False)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks

    async def aclose(self) -> None:
        await self._chunks.aclose()


@dataclass(frozen=True)
class PresignedRequest:
    """A request the client makes to the store itself: this method, URL and headers (each
    header exactly as given: they are part of the signature)."""

    method: Literal["GET", "PUT"]
    url: str
    headers: dict[str, str]
    expires_at: datetime


class _Signal:
    def __init__(self, name: str) -> None:
        self.name = name


_END: Final = _Signal("end")
_ABORT: Final = _Signal("abort")


class _Abandoned(Exception):
    """Raised inside obstore's read of the stream so that it aborts the upload."""


class Storage:
    """One store. `kind` is "local" or "s3"; presigned URLs only exist for "s3" with a key
    pair configured (a role's credentials are obstore's to fetch, not ours to sign with)."""

    def __init__(
        self,
        store: LocalStore | S3Store,
        *,
        kind: Literal["local", "s3"],
        description: str,
        local_root: Path | None = None,
        signer: S3Signer | None = None,
        key_prefix: str = "",
    ) -> None:
        self._store = store
        self.kind = kind
        self.description = description
        self._local_root = local_root
        self._signer = signer
        self._key_prefix = key_prefix
        # Objects in a bucket are stored as opaque bytes, so the store itself never serves one
        # as something a browser runs (local files have no attributes).
        self._attributes: Any = (
            {"Content-Type": "application/octet-stream"} if kind == "s3" else None
        )
        # Cleanups that outlive a cancelled caller are kept here until they finish.
        self._cleanups: set[asyncio.Future[None]] = set()

    def __repr__(self) -> str:
        return f"Storage({self.description})"

    @property
    def can_presign(self) -> bool:
        return self._signer is not None

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int) -> Stored:
        """Stream `chunks` into `key`, counting, hashing and sniffing them on the way.

        Past `max_bytes` it raises ObjectTooLarge without reading further. On any failure
        (the cap, the source raising, the store failing, the caller being cancelled) nothing
        is left under `key`: a multipart upload is aborted, and an object that was completed
        anyway is deleted. An exception from `chunks` is raised as it is; the store's are
        StorageError. The key must not hold an object already (keys are never reused)."""
        check_key(key)
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        hasher = hashlib.sha256()
        head = bytearray()
        size = 0
        block = bytearray()
        queue: asyncio.Queue[bytes | _Signal] | None = None
        upload: asyncio.Future[None] | None = None
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise ObjectTooLarge(max_bytes)
                hasher.update(chunk)
                if len(head) < SNIFF_BYTES:
                    head += chunk[: SNIFF_BYTES - len(head)]
                block += chunk
                if len(block) >= BLOCK_BYTES:
                    if queue is None:
                        queue = asyncio.Queue(maxsize=1)
                        upload = asyncio.ensure_future(self._multipart(key, queue))
                    assert upload is not None
                    await _hand_over(queue, upload, bytes(block), key)
                    block.clear()
            if queue is None:
                # Ended within the first block: one plain request, nothing to abort.
                upload = asyncio.ensure_future(self._put_small(key, bytes(block)))
            else:
                assert upload is not None
                if block:
                    await _hand_over(queue, upload, bytes(block), key)
                    block.clear()
                await _hand_over(queue, upload, _END, key)
            await _settle(upload, key)
        except BaseException:
            await self._abandon(key, queue, upload)
            raise
        return Stored(
            key=key, size=size, sha256=hasher.hexdigest(), content_type_sniffed=sniff(bytes(head))
        )

    async def put(self, key: str, data: bytes) -> None:
        """Store small bytes the caller made itself (a thumbnail) in one request: the object
        is replaced whole or not at all. Unlike put_stream it may overwrite its key, and a
        failure deletes nothing (what is there may be another writer's committed copy)."""
        check_key(key)
        await self._call("put", key, self._put_small(key, data))

    async def _put_small(self, key: str, data: bytes) -> None:
        await obstore.put_async(self._store, key, data, attributes=self._attributes)

    async def _multipart(self, key: str, queue: asyncio.Queue[bytes | _Signal]) -> None:
        async def blocks() -> AsyncIterator[bytes]:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                if item is _ABORT:
                    raise _Abandoned
                assert isinstance(item, bytes)
                yield item

        await obstore.put_async(
            self._store,
            key,
            blocks(),
            attributes=self._attributes,
            use_multipart=True,
            chunk_size=PART_BYTES,
            max_concurrency=PARTS_IN_FLIGHT,
        )

    async def _abandon(
        self,
        key: str,
        queue: asyncio.Queue[bytes | _Signal] | None,
        upload: asyncio.Future[None] | None,
    ) -> None:
        """Undo a put that failed: tell obstore's reader to raise (so it aborts the multipart
        upload), wait for it, then delete whatever may have completed. The cleanup runs to its
        end even when the caller is cancelled meanwhile (it then goes on in the background)."""
        if upload is None:
            return  # nothing was sent to the store
        if queue is not None:
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(_ABORT)

        async def cleanup() -> None:
            with contextlib.suppress(BaseException):
                await upload
            try:
                await self.delete(key)
            except Exception:
                log.warning("could not remove an abandoned upload", extra={"key": key})

        task = asyncio.ensure_future(cleanup())
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)
        await asyncio.shield(task)

    async def open_read(self, key: str) -> ReadStream:
        """The object's size and a stream of its bytes (ObjectNotFound if there is none)."""
        check_key(key)
        result = await self._call("get", key, obstore.get_async(self._store, key))
        stream = result.stream(min_chunk_size=READ_CHUNK_BYTES)

        async def chunks() -> AsyncGenerator[bytes, None]:
            try:
                async for chunk in stream:
                    yield bytes(chunk)
            except FileNotFoundError:
                raise ObjectNotFound(key) from None
            except Exception as exc:
                raise StorageError(f"storage read of {key!r} failed: {exc}") from exc

        return ReadStream(key=key, size=int(result.meta["size"]), _chunks=chunks())

    async def read_head(self, key: str, length: int = SNIFF_BYTES) -> bytes:
        """The first `length` bytes (fewer if the object is shorter): enough to sniff it."""
        check_key(key)
        data = await self._call(
            "get", key, obstore.get_range_async(self._store, key, start=0, length=length)
        )
        return bytes(data)

    async def head(self, key: str) -> ObjectInfo | None:
        check_key(key)
        try:
            meta = await self._call("head", key, obstore.head_async(self._store, key))
        except ObjectNotFound:
            return None
        return _info(meta)

    async def exists(self, key: str) -> bool:
        return await self.head(key) is not None

    async def delete(self, key: str) -> None:
        """Remove the object; an object that is not there is already removed."""
        check_key(key)
        with contextlib.suppress(ObjectNotFound):
            await self._call("delete", key, obstore.delete_async(self._store, key))

    async def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        """Every object under `prefix` (whole segments: `a/b` holds `a/b/c`, not `a/bc`), in
        no promised order, with its size and last modification (for garbage collection: an
        object younger than the longest upload may not have its row committed yet). Objects
        still being written are not listed."""
        if prefix:
            check_key(prefix)
        stream = obstore.list(self._store, prefix or None, chunk_size=1000)
        try:
            async for batch in stream:
                for meta in batch:
                    yield _info(meta)
        except FileNotFoundError:
            return
        except Exception as exc:
            raise StorageError(f"storage list of {prefix!r} failed: {exc}") from exc

    async def presigned_get(
        self,
        key: str,
        *,
        ttl: timedelta,
        filename: str,
        disposition: Disposition = "attachment",
        content_type: str | None = None,
    ) -> str | None:
        """A URL that downloads the object straight from the store until `ttl` has passed,
        answered with `Content-Disposition: <disposition>; filename=...` and, when given,
        this Content-Type (whatever the object was stored with). None where the store cannot
        sign (local files): callers stream the object through the api instead."""
        check_key(key)
        content_disposition(disposition, filename)  # refuses a bad disposition early
        if self._signer is None:
            return None
        query = {"response-content-disposition": content_disposition(disposition, filename)}
        if content_type:
            query["response-content-type"] = content_type
        return self._signer.presign(
            "GET", self._full_key(key), expires_in=_seconds(ttl), query=query
        )

    async def presigned_put(
        self,
        key: str,
        *,
        ttl: timedelta,
        content_length: int,
        content_type: str = "application/octet-stream",
        sha256: str | None = None,
    ) -> PresignedRequest | None:
        """A PUT the client sends straight to the store until `ttl` has passed, held to
        exactly `content_length` bytes (and, given the hex `sha256`, to exactly that content:
        S3 checks it): the signature covers those headers, so the store refuses any other
        size. Check `content_length` against the cap and quota before asking. After the
        client's PUT, head() tells whether it arrived and read_head() gives bytes to sniff.
        None where the store cannot sign (local files): callers take the upload themselves."""
        check_key(key)
        if content_length < 0:
            raise ValueError("content_length must be >= 0")
        if self._signer is None:
            return None
        headers = {"Content-Length": str(content_length), "Content-Type": content_type}
        if sha256 is not None:
            headers["x-amz-checksum-sha256"] = _base64_digest(sha256)
        seconds = _seconds(ttl)
        url = self._signer.presign("PUT", self._full_key(key), expires_in=seconds, headers=headers)
        return PresignedRequest(
            method="PUT",
            url=url,
            headers=headers,
            expires_at=datetime.now(UTC) + timedelta(seconds=seconds),
        )

    async def remove_stale_partials(self, older_than: timedelta) -> int:
        """Remove what uploads killed mid-way left behind, older than `older_than`; returns how
        many. Local: obstore's staging files (`<key>#<n>`), which list() never shows. S3 keeps
        incomplete multipart uploads out of sight too, but obstore cannot list them: give the
        bucket a lifecycle rule (AbortIncompleteMultipartUpload) instead; here it returns 0."""
        if self._local_root is None:
            return 0
        root = self._local_root
        cutoff = time.time() - older_than.total_seconds()

        def sweep() -> int:
            removed = 0
            for path in root.rglob("*#*"):
                with contextlib.suppress(FileNotFoundError):
                    if (
                        _STAGING.search(path.name)
                        and path.is_file()
                        and path.stat().st_mtime < cutoff
                    ):
                        path.unlink()
                        removed += 1
            return removed

        return await asyncio.to_thread(sweep)

    async def aclose(self) -> None:
        """Wait for cleanups of abandoned uploads still running."""
        if self._cleanups:
            await asyncio.gather(*self._cleanups, return_exceptions=True)

    def _full_key(self, key: str) -> str:
        return f"{self._key_prefix}/{key}" if self._key_prefix else key

    async def _call(self, operation: str, key: str, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except FileNotFoundError:
            raise ObjectNotFound(key) from None
        except Exception as exc:  # obstore's own error classes and builtins alike
            raise StorageError(f"storage {operation} of {key!r} failed: {exc}") from exc


async def _hand_over(
    queue: asyncio.Queue[bytes | _Signal],
    upload: asyncio.Future[None],
    item: bytes | _Signal,
    key: str,
) -> None:
    """Give obstore's reader the next item, unless the upload has ended (it failed)."""
    if not upload.done():
        put = asyncio.ensure_future(queue.put(item))
        try:
            await asyncio.wait({put, upload}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not put.done():
                put.cancel()
        if put.done() and not put.cancelled():
            return
    await _settle(upload, key)
    raise StorageError(f"storage put of {key!r} ended before its stream did")


async def _settle(upload: asyncio.Future[None], key: str) -> None:
    """Wait for the upload to end. Shielded: cancelling the caller must not cancel obstore's
    future, which would drop a multipart upload without aborting it."""
    try:
        await asyncio.shield(upload)
    except (_Abandoned, asyncio.CancelledError):
        raise
    except Exception as exc:
        raise StorageError(f"storage put of {key!r} failed: {exc}") from exc


def _info(meta: Any) -> ObjectInfo:
    return ObjectInfo(
        key=str(meta["path"]),
        size=int(meta["size"]),
        last_modified=meta["last_modified"],
        etag=meta.get("e_tag"),
    )


def _seconds(ttl: timedelta) -> int:
    seconds = int(ttl.total_seconds())
    if seconds < 1:
        raise ValueError("ttl must be at least one second")
    return seconds


def _base64_digest(sha256_hex: str) -> str:
    try:
        digest = bytes.fromhex(sha256_hex)
    except ValueError:
        raise ValueError("sha256 must be 64 hex digits") from None
    if len(digest) != 32:
        raise ValueError("sha256 must be 64 hex digits")
    return base64.b64encode(digest).decode()


def open_storage(settings: Settings) -> Storage:
    """The store TASKBOARD_STORAGE_URL names (StorageNotConfigured when it is unset). A local
    directory is created if missing. Nothing is contacted yet: a bad bucket or credentials
    show on first use."""
    location = settings.storage
    if location is None:
        raise StorageNotConfigured
    _settle_runtime_at_exit()
    if location.kind == "local":
        return _local(location)
    return _s3(location, settings)


def _local(location: StorageLocation) -> Storage:
    assert location.path is not None
    root = location.path
    try:
        store = LocalStore(root, mkdir=True, automatic_cleanup=True)
    except Exception as exc:
        raise StorageError(f"cannot use {root} for file storage: {exc}") from exc
    return Storage(store, kind="local", description=f"local {root}", local_root=root)


def _s3(location: StorageLocation, settings: Settings) -> Storage:
    region = settings.storage_s3_region
    endpoint = settings.storage_s3_endpoint
    virtual = settings.storage_s3_virtual_hosted_style
    if endpoint is None:
        endpoint = f"https://s3.{region}.amazonaws.com"
    parts = urlsplit(endpoint)
    bucket_host_url = f"{parts.scheme}://{location.bucket}.{parts.netloc}"
    bucket_url = bucket_host_url if virtual else f"{endpoint}/{location.bucket}"
    config: S3Config = {
        "region": region,
        # obstore takes a virtual-hosted endpoint as the bucket's own URL.
        "endpoint": bucket_host_url if virtual else endpoint,
        "virtual_hosted_style_request": virtual,
    }
    secret = settings.storage_s3_secret_access_key
    signer = None
    if settings.storage_s3_access_key_id and secret is not None:
        config["access_key_id"] = settings.storage_s3_access_key_id
        config["secret_access_key"] = secret.get_secret_value()
        signer = S3Signer(
            bucket_url=bucket_url,
            region=region,
            access_key_id=settings.storage_s3_access_key_id,
            secret_access_key=secret.get_secret_value(),
        )
    try:
        store = S3Store(
            location.bucket,
            prefix=location.prefix or None,
            config=config,
            client_options={"allow_http": parts.scheme == "http"},
        )
    except Exception as exc:
        raise StorageError(f"cannot use s3://{location.bucket} for file storage: {exc}") from exc
    where = f"s3://{location.bucket}/{location.prefix}".rstrip("/")
    return Storage(
        store,
        kind="s3",
        description=f"{where} at {endpoint}",
        signer=signer,
        key_prefix=location.prefix,
    )


_exit_hook_registered = False


def _settle_runtime_at_exit() -> None:
    """obstore answers async calls from its Tokio threads, which hand each result to the
    event loop and then take the GIL back once more. A process that exits right after such
    a call can begin finalizing in between, and CPython then ends that thread in a way Rust
    cannot unwind through: the process aborts (SIGABRT) after its work is done (an open
    issue of pyo3-async-runtimes). Releasing the GIL for a moment at exit lets those threads
    finish first."""
    global _exit_hook_registered
    if not _exit_hook_registered:
        _exit_hook_registered = True
        atexit.register(time.sleep, 0.05)
