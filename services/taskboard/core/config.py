"""Typed settings from TASKBOARD_* variables, an optional .env and mounted secret files."""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The largest page the API document promises (`limit`'s maximum); TASKBOARD_PAGE_SIZE_MAX
# may only lower it.
PAGE_SIZE_CEILING = 200

# Values that ship in examples and must never guard a real deployment.
PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "changethis", "secret", "development"})
DEFAULT_SECRETS_DIR = "/run/secrets/taskboard"


# Presigned URLs signed with SigV4 live at most seven days.
STORAGE_PRESIGN_TTL_CEILING = 7 * 86_400

# S3 bucket names: 3-63 lowercase letters, digits, dots and hyphens, starting and ending
# with a letter or digit.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


class ConfigurationError(Exception):
    """Start-up must stop: the message names every bad setting."""


@dataclass(frozen=True)
class StorageLocation:
    """Where TASKBOARD_STORAGE_URL points: a local directory or an S3 bucket and prefix."""

    kind: Literal["local", "s3"]
    path: Path | None = None  # local: an absolute directory
    bucket: str = ""  # s3
    prefix: str = ""  # s3: keys live under it ("" for the whole bucket), no leading/trailing /


def storage_location(url: str) -> StorageLocation:
    """Parse TASKBOARD_STORAGE_URL: `file:///abs/dir`, a directory path (relative to the
    working directory) or `s3://bucket[/prefix]`. ValueError says what is wrong."""
    url = url.strip()
    scheme, sep, _ = url.partition("://")
    if not sep:
        if not url:
            raise ValueError("must not be empty")
        return StorageLocation(kind="local", path=Path(url).expanduser().resolve())
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise ValueError("must not carry a query or fragment")
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError("file:// URLs name a local directory: file:///abs/dir")
        path = unquote(parts.path)
        if not path.startswith("/") or path == "/":
            raise ValueError("file:// URLs need an absolute directory: file:///abs/dir")
        return StorageLocation(kind="local", path=Path(path))
    if scheme in ("s3", "s3a"):
        bucket = parts.netloc
        if not bucket:
            raise ValueError("s3:// URLs need a bucket: s3://bucket[/prefix]")
        if not _BUCKET.fullmatch(bucket) or ".." in bucket:
            raise ValueError(f"{bucket!r} is not a valid S3 bucket name")
        prefix = unquote(parts.path).strip("/")
        if prefix and any(segment in ("", ".", "..") for segment in prefix.split("/")):
            raise ValueError("the prefix must not have empty, '.' or '..' segments")
        return StorageLocation(kind="s3", bucket=bucket, prefix=prefix)
    raise ValueError(
        f"unsupported scheme {scheme!r}: use file:///abs/dir, a directory path "
        "or s3://bucket[/prefix]"
    )


def asyncpg_url(database_url: str) -> str:
    """The URL SQLAlchemy's asyncpg dialect takes for a postgresql:// URL. libpq's `sslmode`
    (what managed databases print in their connection strings) becomes asyncpg's `ssl`, which
    takes the same modes; asyncpg refuses `sslmode` as an unknown argument."""
    parts = urlsplit(database_url)
    query = [
        ("ssl" if key == "sslmode" else key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(scheme="postgresql+asyncpg", query=urlencode(query)))


def postgres_url(value: str) -> str:
    if not value.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
        raise ValueError("must be a postgresql:// URL")
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TASKBOARD_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    env: Literal["development", "test", "production"] = "production"
    database_url: str = Field(description="PostgreSQL URL, e.g. postgresql://user:pw@host/db")
    redis_url: str = Field(description="Redis URL, e.g. redis://host:6379/0")
    secret_key: SecretStr = Field(description="Signs access tokens (HS256); at least 32 chars")
    secret_key_previous: SecretStr | None = Field(
        None,
        description="the key before a rotation: what it signed (access tokens, unsubscribe "
        "links, upload grants) is still accepted; new signatures use TASKBOARD_SECRET_KEY",
    )

    db_pool_size: int = Field(20, ge=1, le=200)
    db_max_overflow: int = Field(10, ge=0, le=200)
    # Connections an api process opens, and prepares its hot write on, before it serves: a
    # cold process otherwise opens them under load, and the requests behind each wait.
    db_pool_warm: int = Field(10, ge=0, le=200)
    db_pool_timeout: float = Field(10.0, gt=0)
    db_pool_pre_ping: bool = False
    db_statement_timeout_ms: int = Field(15_000, ge=0)

    access_token_ttl_seconds: int = Field(900, ge=30, le=86_400)
    refresh_token_ttl_seconds: int = Field(30 * 86_400, ge=60)
    cookie_secure: bool = True
    access_cookie_name: str = "taskboard_access"
    password_hash_time_cost: int = Field(3, ge=1, le=20)
    password_hash_memory_kib: int = Field(65_536, ge=64, le=1_048_576)
    password_hash_concurrency: int = Field(
        2, ge=1, le=64, description="password hashes computed at once (off the event loop)"
    )

    rate_limit_auth_per_ip: int = Field(30, ge=1, description="login/register per IP per window")
    rate_limit_auth_per_account: int = Field(
        10, ge=1, description="failed logins per account and client address per window"
    )
    rate_limit_window_seconds: int = Field(60, ge=1)

    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_algorithms: list[str] = Field(default_factory=lambda: ["RS256"])
    oidc_role_claim: str = "roles"
    oidc_admin_values: list[str] = Field(default_factory=lambda: ["admin", "taskboard-admin"])

    max_body_bytes: int = Field(1_048_576, ge=1024)
    quota_boards_per_user: int = Field(500, ge=1, description="boards one user may own")
    quota_members_per_board: int = Field(500, ge=1)
    quota_columns_per_board: int = Field(50, ge=1)
    quota_labels_per_board: int = Field(200, ge=1)
    quota_comments_per_task: int = Field(2000, ge=1)
    quota_tasks_per_board: int = Field(20_000, ge=1, description="tasks, the trash included")
    page_size_default: int = Field(50, ge=1)
    page_size_max: int = Field(PAGE_SIZE_CEILING, ge=1, le=PAGE_SIZE_CEILING)
    idempotency_ttl_seconds: int = Field(86_400, ge=60)
    import_max_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="body cap of board imports (documents, Trello)"
    )
    import_dedup_seconds: int = Field(
        3600, ge=0, description="the same import body from one user within this is one job"
    )
    import_stale_seconds: float = Field(
        120,
        gt=0,
        description="an import queued, or running without progress, this long is sent to the "
        "workers again (its message or its worker was lost; one worker builds a job at a time)",
    )

    otlp_endpoint: str | None = None
    trace_sample_ratio: float = Field(1.0, ge=0, le=1, description="share of traces exported")
    service_name: str = "taskboard"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65_535)
    metrics_port: int = Field(
        9100, ge=0, le=65_535, description="port of /metrics (0: on the main port instead)"
    )
    metrics_host: str | None = Field(None, description="address /metrics binds (default: host)")
    forwarded_allow_ips: str = Field(
        "",
        description="proxies whose X-Forwarded-For/-Proto are believed (comma-separated "
        "addresses or CIDRs, * for any); empty: none, the peer address is the client",
    )
    web_concurrency: int = Field(2, ge=1, le=64)
    graceful_timeout_seconds: int = Field(25, ge=1)

    # Event streams (Redis): the api appends after commit, the relay fills in what was missed.
    stream_shards: int = Field(8, ge=1, le=1024)
    stream_maxlen: int = Field(100_000, ge=100)
    publish_fast_path: bool = Field(True, description="append to Redis right after commit")
    relay_interval_seconds: float = Field(0.25, gt=0, le=60)
    relay_grace_ms: int = Field(200, ge=0, description="leave the api this long to publish first")
    relay_lookback_seconds: int = Field(60, ge=1)
    relay_startup_lookback_seconds: int = Field(3600, ge=1)
    public_url: str = Field(
        "http://127.0.0.1:8000", description="where people reach taskboard (links in e-mails)"
    )
    smtp_url: SecretStr | None = Field(
        None, description="smtp://user:pw@host:587 (STARTTLS) or smtps://...; none: no e-mail"
    )
    smtp_from: str = "taskboard <taskboard@localhost>"
    email_max_retries: int = Field(8, ge=0, le=50)
    email_digest_seconds: float = Field(
        60, ge=0, le=3600, description="e-mails to one user this close together go as one"
    )
    worker_threads: int = Field(4, ge=1, le=256, description="Dramatiq threads per worker")
    delivery_retention_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="sent e-mails, made webhook deliveries, settled reminders and finished "
        "import jobs are deleted this long after (dead letters are kept)",
    )
    worker_processes: int = Field(
        1, ge=1, le=64, description="worker processes per pod (each with all the worker's parts)"
    )
    worker_shutdown_timeout_seconds: float = Field(
        25, gt=0, description="SIGTERM: actors in flight get this long (under the pod's grace)"
    )
    webhook_allow_private_targets: bool = Field(
        False, description="let webhooks reach loopback and private addresses (tests, labs)"
    )
    webhook_poll_seconds: float = Field(
        1, gt=0, le=60, description="how often each worker looks for webhook deliveries due"
    )
    reminder_late_after_seconds: float = Field(
        60, gt=0, description="a reminder sent this long after it was due is marked late"
    )
    reminder_poll_seconds: float = Field(
        1, gt=0, le=60, description="how often each worker looks for due reminders"
    )
    notifier_claim_idle_seconds: float = Field(
        30, gt=0, description="a stream entry pending this long is taken over by another worker"
    )
    snapshot_cache_ttl_seconds: int = Field(300, ge=1)

    # Realtime (WebSocket) pods.
    pod_name: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    ws_auth_timeout_seconds: float = Field(5.0, gt=0)
    ws_allowed_origins: list[str] = Field(
        default_factory=list,
        description="origins (besides the socket's own host) whose pages may open /ws "
        "with the session cookie",
    )
    ws_max_sockets_per_user: int = Field(
        20, ge=1, description="open sockets one user may hold on one realtime pod"
    )
    ws_max_subscriptions: int = Field(100, ge=1, description="board subscriptions per socket")
    ws_db_concurrency: int = Field(
        8, ge=1, description="database reads (replays, checks) a realtime pod runs at once"
    )
    ws_send_queue_bytes: int = Field(
        8 << 20, ge=65_536, description="bytes of frames queued per socket (4008 past it)"
    )
    ws_send_queue_size: int = Field(1000, ge=1, description="frames queued per socket")
    ws_send_timeout_seconds: float = Field(
        10.0, gt=0, description="a socket whose peer takes no frame for this long is closed"
    )
    ws_max_replay: int = Field(5000, ge=0, description="events replayed before asking to resync")
    ws_ping_interval_seconds: float = Field(20.0, gt=0)
    ws_max_message_bytes: int = Field(65_536, ge=1024)
    ws_compression: bool = Field(
        False, description="permessage-deflate: about 40 KiB more per socket, less bandwidth"
    )
    presence_ttl_seconds: int = Field(30, ge=3)
    consumer_group_idle_seconds: int = Field(300, ge=5)

    # File storage (attachments): a local directory, or an S3-compatible bucket.
    storage_url: str | None = Field(
        None,
        description="where files are kept: file:///abs/dir (or a directory path) or "
        "s3://bucket[/prefix]; unset: no file storage (taskboard up sets one under its data dir)",
    )
    storage_s3_endpoint: str | None = Field(
        None,
        description="an S3-compatible server's URL (MinIO, Ceph, R2...); unset: AWS S3 itself",
    )
    storage_s3_region: str = Field("us-east-1", min_length=1, description="the bucket's region")
    storage_s3_access_key_id: str | None = Field(
        None, description="S3 access key id; unset: the AWS_* environment or the pod's role"
    )
    storage_s3_secret_access_key: SecretStr | None = Field(
        None, description="S3 secret key (a secret file in TASKBOARD_SECRETS_DIR)"
    )
    storage_s3_virtual_hosted_style: bool = Field(
        False, description="address the bucket as bucket.host instead of host/bucket"
    )
    storage_presign_ttl_seconds: int = Field(
        300,
        ge=1,
        le=STORAGE_PRESIGN_TTL_CEILING,
        description="how long presigned download and upload URLs are valid",
    )
    attachment_max_bytes: int = Field(
        100 * 1024 * 1024, ge=1, description="largest file one upload may store"
    )
    board_storage_quota_bytes: int = Field(
        10 * 1024 * 1024 * 1024, ge=1, description="bytes of files one board may keep"
    )
    # The worker's file jobs: thumbnails, and collecting what no row needs.
    thumbnail_max_pixels: int = Field(
        50_000_000,
        ge=1,
        # Pillow refuses past twice its MAX_IMAGE_PIXELS (about 179 million) whatever this says.
        le=150_000_000,
        description="images with more pixels than this get no thumbnail (a decompression "
        "bomb is refused before it is decoded)",
    )
    file_collect_interval_seconds: float = Field(
        3600, gt=0, description="how often one worker (of all) collects files no row needs"
    )
    file_orphan_grace_seconds: int = Field(
        3600,
        ge=60,
        description="a stored object no row references is deleted only once it is this old "
        "(its upload may still be about to record it): above the longest upload and above "
        "TASKBOARD_STORAGE_PRESIGN_TTL_SECONDS",
    )
    trash_retention_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="removed attachments are deleted, with their files, this long after",
    )

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        return postgres_url(value)

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("storage_url")
    @classmethod
    def _storage_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        storage_location(value)  # raises ValueError naming what is wrong
        return value.strip()

    @field_validator("storage_s3_endpoint")
    @classmethod
    def _s3_endpoint(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL, e.g. https://minio.example:9000")
        if parts.path.strip("/") or parts.query or parts.fragment:
            raise ValueError("must be the server's URL alone (no path: the bucket is in the URL)")
        return value.strip().rstrip("/")

    @field_validator("oidc_algorithms")
    @classmethod
    def _no_none_alg(cls, value: list[str]) -> list[str]:
        if any(alg.lower() == "none" for alg in value):
            raise ValueError("the 'none' algorithm is never accepted")
        if not value:
            raise ValueError("at least one algorithm is required")
        return value

    @model_validator(mode="after")
    def _secrets_are_real(self) -> Settings:
        secret = self.secret_key.get_secret_value()
        if self.env != "development":
            if secret.lower() in PLACEHOLDER_SECRETS:
                raise ValueError(
                    "TASKBOARD_SECRET_KEY is a placeholder; set a random value "
                    "(only TASKBOARD_ENV=development accepts it)"
                )
            if len(secret) < 32:
                raise ValueError("TASKBOARD_SECRET_KEY must be at least 32 characters")
            previous = self.secret_key_previous
            if previous is not None and len(previous.get_secret_value()) < 32:
                raise ValueError("TASKBOARD_SECRET_KEY_PREVIOUS must be at least 32 characters")
        if self.page_size_default > self.page_size_max:
            raise ValueError("TASKBOARD_PAGE_SIZE_DEFAULT exceeds TASKBOARD_PAGE_SIZE_MAX")
        if self.oidc_issuer and not (self.oidc_audience and self.oidc_jwks_url):
            raise ValueError(
                "TASKBOARD_OIDC_ISSUER needs TASKBOARD_OIDC_AUDIENCE and TASKBOARD_OIDC_JWKS_URL"
            )
        if (self.storage_s3_access_key_id is None) != (self.storage_s3_secret_access_key is None):
            raise ValueError(
                "TASKBOARD_STORAGE_S3_ACCESS_KEY_ID and TASKBOARD_STORAGE_S3_SECRET_ACCESS_KEY "
                "go together: set both or neither"
            )
        if self.attachment_max_bytes > self.board_storage_quota_bytes:
            raise ValueError(
                "TASKBOARD_ATTACHMENT_MAX_BYTES exceeds TASKBOARD_BOARD_STORAGE_QUOTA_BYTES"
            )
        if self.file_orphan_grace_seconds <= self.storage_presign_ttl_seconds:
            # A presigned upload may complete until its URL expires, and is recorded after.
            raise ValueError(
                "TASKBOARD_FILE_ORPHAN_GRACE_SECONDS must exceed "
                "TASKBOARD_STORAGE_PRESIGN_TTL_SECONDS: a direct upload is recorded after it "
                "completes, up to the URL's expiry, and must not be collected before"
            )
        return self

    @property
    def storage(self) -> StorageLocation | None:
        """TASKBOARD_STORAGE_URL parsed (validated at load); None when it is unset."""
        return storage_location(self.storage_url) if self.storage_url else None

    @property
    def verification_keys(self) -> list[str]:
        """The keys a signature may have been made with, the current one first."""
        keys = [self.secret_key.get_secret_value()]
        if self.secret_key_previous is not None:
            keys.append(self.secret_key_previous.get_secret_value())
        return keys

    @cached_property
    def async_database_url(self) -> str:
        return asyncpg_url(self.database_url)


def load_settings(**overrides: object) -> Settings:
    """Build Settings, turning validation errors into one message naming each variable."""
    secrets_dir = os.environ.get("TASKBOARD_SECRETS_DIR", DEFAULT_SECRETS_DIR)
    kwargs: dict[str, object] = dict(overrides)
    if Path(secrets_dir).is_dir():
        kwargs["_secrets_dir"] = secrets_dir
    try:
        return Settings(**kwargs)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigurationError(describe_validation_error(exc)) from None


class DatabaseSettings(BaseSettings):
    """Only the database URL: what `taskboard migrate` and the other database commands need
    (a migration Job is given no Redis URL or secret key), read the same way as Settings."""

    model_config = SettingsConfigDict(env_prefix="TASKBOARD_", extra="ignore")

    database_url: str = Field(description="PostgreSQL URL, e.g. postgresql://user:pw@host/db")

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        return postgres_url(value)


def load_database_url() -> str:
    """TASKBOARD_DATABASE_URL from the environment or the secrets directory, validated."""
    secrets_dir = os.environ.get("TASKBOARD_SECRETS_DIR", DEFAULT_SECRETS_DIR)
    kwargs: dict[str, object] = {}
    if Path(secrets_dir).is_dir():
        kwargs["_secrets_dir"] = secrets_dir
    try:
        return DatabaseSettings(**kwargs).database_url  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigurationError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    lines = ["invalid configuration:"]
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        name = f"TASKBOARD_{loc[0].upper()}" if loc else "settings"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "is required but not set"
        lines.append(f"  {name}: {message}")
    return "\n".join(lines)
