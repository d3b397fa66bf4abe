"""Presigned S3 URLs (AWS Signature Version 4, query-string authentication).

obstore signs URLs too (`obstore.sign`), but only for a bare method and path: it can neither
add `response-content-disposition` / `response-content-type` to a GET (so a download could
not be forced to be an attachment with the file's name) nor sign headers into a PUT (so an
upload could not be held to the size the api agreed to). Both are part of the signature, so
they cannot be appended afterwards; object_store, the Rust crate under obstore, has this as
an open request. This module is the signing algorithm, nothing else: requests still go
through obstore. tests/storage checks it against obstore's own URLs and botocore's signer.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_EXPIRES_SECONDS = 7 * 86_400  # SigV4's limit


def _uri_encode(value: str, *, keep_slash: bool = False) -> str:
    # SigV4's UriEncode: everything but A-Z a-z 0-9 - _ . ~ percent-encoded (UTF-8).
    return quote(value, safe="/~" if keep_slash else "~", encoding="utf-8")


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


@dataclass(frozen=True)
class S3Signer:
    """Signs requests for one bucket. `bucket_url` is the bucket's root as clients reach it:
    `https://s3.eu-west-1.amazonaws.com/bucket` (path style), `https://bucket.s3.eu-west-1.
    amazonaws.com` (virtual-hosted) or `http://minio:9000/bucket`."""

    bucket_url: str
    region: str
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:  # never show the secret
        return f"S3Signer({self.bucket_url!r}, region={self.region!r})"

    def presign(
        self,
        method: str,
        key: str,
        *,
        expires_in: int,
        now: datetime | None = None,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """A URL that performs `method` on `key` (the bucket-relative key) until `now` plus
        `expires_in` seconds. `query` is signed into the URL (e.g. response-content-type);
        `headers` are signed and must then be sent with exactly these values."""
        if not 1 <= expires_in <= MAX_EXPIRES_SECONDS:
            raise ValueError(f"expires_in must be 1..{MAX_EXPIRES_SECONDS} seconds")
        now = (now or datetime.now(UTC)).astimezone(UTC)
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        scope = f"{now:%Y%m%d}/{self.region}/s3/aws4_request"

        base = urlsplit(self.bucket_url)
        host = base.netloc.rsplit("@", 1)[-1]
        default_port = {"http": 80, "https": 443}.get(base.scheme)
        if base.port is not None and base.port == default_port:
            host = host.rsplit(":", 1)[0]
        path = _uri_encode(f"{base.path.rstrip('/')}/{key}", keep_slash=True)

        signed = {"host": host}
        for name, value in (headers or {}).items():
            signed[name.lower()] = " ".join(str(value).split())
        signed_names = ";".join(sorted(signed))

        params = dict(query or {})
        params.update(
            {
                "X-Amz-Algorithm": ALGORITHM,
                "X-Amz-Credential": f"{self.access_key_id}/{scope}",
                "X-Amz-Date": amz_date,
                "X-Amz-Expires": str(expires_in),
                "X-Amz-SignedHeaders": signed_names,
            }
        )
        if self.session_token:
            params["X-Amz-Security-Token"] = self.session_token
        canonical_query = "&".join(
            f"{k}={v}"
            for k, v in sorted((_uri_encode(k), _uri_encode(v)) for k, v in params.items())
        )
        canonical_headers = "".join(f"{name}:{signed[name]}\n" for name in sorted(signed))
        canonical_request = "\n".join(
            [method, path, canonical_query, canonical_headers, signed_names, UNSIGNED_PAYLOAD]
        )
        string_to_sign = "\n".join(
            [ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
        )
        key_bytes = _hmac(f"AWS4{self.secret_access_key}".encode(), f"{now:%Y%m%d}")
        for part in (self.region, "s3", "aws4_request"):
            key_bytes = _hmac(key_bytes, part)
        signature = hmac.new(key_bytes, string_to_sign.encode(), hashlib.sha256).hexdigest()
        return f"{base.scheme}://{base.netloc}{path}?{canonical_query}&X-Amz-Signature={signature}"
