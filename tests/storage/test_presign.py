"""Presigned URLs: signed like obstore and botocore sign them, and working against an S3 API.

moto does not check signatures, so the signature itself is checked against two independent
signers: obstore's (the same URL for a bare GET) and botocore's (the same URL with a
response-content-disposition or signed headers).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import obstore
import pytest
from obstore.store import S3Store

from taskboard.storage import ObjectNotFound, content_disposition
from taskboard.storage.presign import S3Signer
from tests.fixtures.s3 import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
from tests.storage.conftest import Backend

NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)


def parsed(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", dict(parse_qsl(parts.query))


@pytest.mark.parametrize(
    ("store_options", "bucket_url"),
    [
        (
            {"endpoint": "http://127.0.0.1:9000"},
            "http://127.0.0.1:9000/bucket",
        ),
        ({}, f"https://s3.{REGION}.amazonaws.com/bucket"),
        (
            {"virtual_hosted_style_request": True},
            f"https://bucket.s3.{REGION}.amazonaws.com",
        ),
    ],
    ids=["custom-endpoint", "aws-path-style", "aws-virtual-hosted"],
)
def test_a_bare_get_is_signed_exactly_as_obstore_signs_it(
    store_options: dict[str, Any], bucket_url: str
) -> None:
    store = S3Store(
        "bucket",
        config={
            "region": REGION,
            "access_key_id": ACCESS_KEY_ID,
            "secret_access_key": SECRET_ACCESS_KEY,
            **store_options,
        },
        client_options={"allow_http": True},
    )
    theirs = obstore.sign(store, "GET", "pre/fix/file name+1.bin", timedelta(seconds=300))
    when = datetime.strptime(parsed(theirs)[1]["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    signer = S3Signer(bucket_url, REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    ours = signer.presign("GET", "pre/fix/file name+1.bin", expires_in=300, now=when)
    assert parsed(ours) == parsed(theirs)


def botocore_presign(
    method: str, url: str, headers: dict[str, str], expires: int, monkeypatch: pytest.MonkeyPatch
) -> str:
    from botocore import auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    monkeypatch.setattr(auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    request = AWSRequest(method=method, url=url, headers=headers)
    signer = auth.S3SigV4QueryAuth(
        Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "s3", REGION, expires=expires
    )
    signer.add_auth(request)
    return str(request.url)


def test_a_get_with_a_disposition_is_signed_as_botocore_signs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    disposition = content_disposition("attachment", 'Résumé "final".pdf')
    query = {"response-content-disposition": disposition, "response-content-type": "text/plain"}
    signer = S3Signer("http://127.0.0.1:9000/bucket", REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    ours = signer.presign("GET", "boards/b/a", expires_in=600, now=NOW, query=query)
    from urllib.parse import urlencode

    theirs = botocore_presign(
        "GET",
        f"http://127.0.0.1:9000/bucket/boards/b/a?{urlencode(query)}",
        {},
        600,
        monkeypatch,
    )
    assert parsed(ours) == parsed(theirs)


def test_a_put_with_signed_headers_is_signed_as_botocore_signs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    headers = {
        "Content-Length": "1234",
        "Content-Type": "application/octet-stream",
        "x-amz-checksum-sha256": "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=",
    }
    signer = S3Signer("https://minio.example:9443/bucket", REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    ours = signer.presign("PUT", "boards/b/a", expires_in=900, now=NOW, headers=headers)
    theirs = botocore_presign(
        "PUT", "https://minio.example:9443/bucket/boards/b/a", headers, 900, monkeypatch
    )
    assert parsed(ours) == parsed(theirs)
    assert parsed(ours)[1]["X-Amz-SignedHeaders"] == (
        "content-length;content-type;host;x-amz-checksum-sha256"
    )


def test_expiry_is_limited_to_what_sigv4_allows() -> None:
    signer = S3Signer("http://127.0.0.1:9000/bucket", REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    with pytest.raises(ValueError, match="expires_in"):
        signer.presign("GET", "k", expires_in=7 * 86_400 + 1)
    with pytest.raises(ValueError, match="expires_in"):
        signer.presign("GET", "k", expires_in=0)
    assert SECRET_ACCESS_KEY not in repr(signer)


async def test_a_presigned_get_downloads_with_the_disposition_asked_for(
    s3_backend: Backend,
) -> None:
    async def body() -> Any:
        yield b"<html><script>alert(1)</script></html>"

    stored = await s3_backend.storage.put_stream("boards/b/page", body(), max_bytes=1000)
    assert stored.content_type_sniffed == "text/html"
    url = await s3_backend.storage.presigned_get(
        "boards/b/page",
        ttl=timedelta(minutes=5),
        filename="page.png",
        disposition="attachment",
        content_type="application/octet-stream",
    )
    assert url is not None
    assert s3_backend.prefix in url  # the store's prefix is part of the signed key
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.content == b"<html><script>alert(1)</script></html>"
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"page.png\"; filename*=UTF-8''page.png"
    )
    assert response.headers["content-type"] == "application/octet-stream"

    inline = await s3_backend.storage.presigned_get(
        "boards/b/page", ttl=timedelta(seconds=30), filename="ünï.png", disposition="inline"
    )
    assert inline is not None
    async with httpx.AsyncClient() as client:
        response = await client.get(inline)
    assert response.headers["content-disposition"].startswith('inline; filename="_n_.png"')
    # Stored as opaque bytes: without an override the store says so too.
    assert response.headers["content-type"] == "application/octet-stream"


async def test_a_presigned_put_uploads_straight_to_the_store(s3_backend: Backend) -> None:
    data = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000
    request = await s3_backend.storage.presigned_put(
        "boards/b/direct",
        ttl=timedelta(minutes=5),
        content_length=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    assert request is not None
    assert request.method == "PUT"
    assert request.headers["Content-Length"] == str(len(data))
    assert request.expires_at > datetime.now(UTC)
    async with httpx.AsyncClient() as client:
        response = await client.put(request.url, content=data, headers=request.headers)
    assert response.status_code == 200, response.text
    info = await s3_backend.storage.head("boards/b/direct")
    assert info is not None
    assert info.size == len(data)
    head = await s3_backend.storage.read_head("boards/b/direct")
    assert head == data[: len(head)]
    from taskboard.storage import sniff

    assert sniff(head) == "image/png"
    reader = await s3_backend.storage.open_read("boards/b/direct")
    assert b"".join([c async for c in reader]) == data
    await s3_backend.storage.delete("boards/b/direct")
    with pytest.raises(ObjectNotFound):
        await s3_backend.storage.open_read("boards/b/direct")


async def test_presigning_refuses_bad_arguments(s3_backend: Backend) -> None:
    with pytest.raises(ValueError, match="disposition"):
        await s3_backend.storage.presigned_get(
            "k",
            ttl=timedelta(minutes=1),
            filename="a",
            disposition="evil",  # type: ignore[arg-type]
        )
    with pytest.raises(ValueError, match="ttl"):
        await s3_backend.storage.presigned_get("k", ttl=timedelta(0), filename="a")
    with pytest.raises(ValueError, match="sha256"):
        await s3_backend.storage.presigned_put(
            "k", ttl=timedelta(minutes=1), content_length=1, sha256="zz"
        )
