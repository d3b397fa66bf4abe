from __future__ import annotations

from pathlib import Path

import pytest

from taskboard.core.config import ConfigurationError, load_settings

GOOD = {
    "database_url": "postgresql://u@localhost/db",
    "redis_url": "redis://localhost:6379/0",
    "secret_key": "s" * 40,
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ENV", "SECRETS_DIR", "STORAGE_URL"):
        monkeypatch.delenv(f"TASKBOARD_{name}", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_missing_settings_are_named() -> None:
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    message = str(error.value)
    for name in ("TASKBOARD_DATABASE_URL", "TASKBOARD_REDIS_URL", "TASKBOARD_SECRET_KEY"):
        assert f"{name}: is required but not set" in message


def test_invalid_values_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKBOARD_DB_POOL_SIZE", "lots")
    with pytest.raises(ConfigurationError, match="TASKBOARD_DB_POOL_SIZE"):
        load_settings(**GOOD)
    with pytest.raises(ConfigurationError, match="TASKBOARD_DATABASE_URL: must be a postgresql"):
        load_settings(**{**GOOD, "database_url": "mysql://x"})


def test_placeholder_secret_refused_outside_development() -> None:
    with pytest.raises(ConfigurationError, match="TASKBOARD_SECRET_KEY is a placeholder"):
        load_settings(**{**GOOD, "secret_key": "changeme"})
    dev = load_settings(**{**GOOD, "secret_key": "changeme", "env": "development"})
    assert dev.secret_key.get_secret_value() == "changeme"


def test_none_algorithm_refused_for_oidc() -> None:
    with pytest.raises(ConfigurationError, match="'none' algorithm"):
        load_settings(**GOOD, oidc_algorithms=["RS256", "none"])


def test_env_file_and_mounted_secret_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    Path(".env").write_text(
        "TASKBOARD_DATABASE_URL=postgresql://u@db/x\nTASKBOARD_REDIS_URL=redis://r:6379/0\n"
    )
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "taskboard_secret_key").write_text("k" * 48)
    monkeypatch.setenv("TASKBOARD_SECRETS_DIR", str(secrets))
    settings = load_settings()
    assert settings.database_url == "postgresql://u@db/x"
    assert settings.secret_key.get_secret_value() == "k" * 48
    assert settings.async_database_url == "postgresql+asyncpg://u@db/x"


def test_storage_is_off_unless_configured() -> None:
    settings = load_settings(**GOOD)
    assert settings.storage_url is None
    assert settings.storage is None
    assert settings.attachment_max_bytes == 100 * 1024 * 1024


@pytest.mark.parametrize(
    ("url", "kind", "where"),
    [
        ("file:///srv/taskboard/files", "local", "/srv/taskboard/files"),
        ("file://localhost/srv/files", "local", "/srv/files"),
        ("/srv/files", "local", "/srv/files"),
        ("s3://bucket", "s3", "bucket:"),
        ("s3://my.bucket-1/some/prefix/", "s3", "my.bucket-1:some/prefix"),
    ],
)
def test_storage_urls(url: str, kind: str, where: str) -> None:
    location = load_settings(**GOOD, storage_url=url).storage
    assert location is not None
    assert location.kind == kind
    if kind == "local":
        assert str(location.path) == where
    else:
        assert f"{location.bucket}:{location.prefix}" == where


def test_a_relative_storage_path_is_made_absolute(tmp_path: Path) -> None:
    location = load_settings(**GOOD, storage_url="files").storage
    assert location is not None
    assert location.path == tmp_path / "files"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"storage_url": "gs://bucket/x"}, "TASKBOARD_STORAGE_URL: unsupported scheme 'gs'"),
        ({"storage_url": "s3://"}, "TASKBOARD_STORAGE_URL: s3:// URLs need a bucket"),
        ({"storage_url": "s3:///prefix"}, "TASKBOARD_STORAGE_URL: s3:// URLs need a bucket"),
        ({"storage_url": "s3://Bad_Bucket"}, "TASKBOARD_STORAGE_URL: 'Bad_Bucket' is not a valid"),
        ({"storage_url": "s3://bucket/a//b"}, "TASKBOARD_STORAGE_URL: the prefix must not"),
        ({"storage_url": "file://host/x"}, "TASKBOARD_STORAGE_URL: file:// URLs name a local"),
        ({"storage_url": "file:///"}, "TASKBOARD_STORAGE_URL: file:// URLs need an absolute"),
        ({"storage_url": "s3://bucket?x=1"}, "TASKBOARD_STORAGE_URL: must not carry a query"),
        ({"storage_s3_endpoint": "minio:9000"}, "TASKBOARD_STORAGE_S3_ENDPOINT: must be an http"),
        (
            {"storage_s3_endpoint": "https://minio:9000/bucket"},
            "TASKBOARD_STORAGE_S3_ENDPOINT: must be the server's URL alone",
        ),
        (
            {"storage_s3_access_key_id": "AKIA"},
            "TASKBOARD_STORAGE_S3_ACCESS_KEY_ID and TASKBOARD_STORAGE_S3_SECRET_ACCESS_KEY go "
            "together",
        ),
        ({"storage_presign_ttl_seconds": 8 * 86_400}, "TASKBOARD_STORAGE_PRESIGN_TTL_SECONDS"),
        ({"attachment_max_bytes": 0}, "TASKBOARD_ATTACHMENT_MAX_BYTES"),
        (
            {"attachment_max_bytes": 2_000, "board_storage_quota_bytes": 1_000},
            "TASKBOARD_ATTACHMENT_MAX_BYTES exceeds TASKBOARD_BOARD_STORAGE_QUOTA_BYTES",
        ),
    ],
)
def test_bad_storage_settings_are_named(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        load_settings(**GOOD, **values)
    assert message in str(error.value)


def test_storage_settings_from_the_environment_and_a_secret_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "TASKBOARD_STORAGE_S3_SECRET_ACCESS_KEY").write_text("from-a-file\n")
    monkeypatch.setenv("TASKBOARD_SECRETS_DIR", str(secrets))
    monkeypatch.setenv("TASKBOARD_STORAGE_URL", "s3://attachments/prod")
    monkeypatch.setenv("TASKBOARD_STORAGE_S3_ENDPOINT", "https://minio.example:9000/")
    monkeypatch.setenv("TASKBOARD_STORAGE_S3_ACCESS_KEY_ID", "taskboard")
    monkeypatch.setenv("TASKBOARD_ATTACHMENT_MAX_BYTES", "1048576")
    settings = load_settings(**GOOD)
    assert settings.storage is not None
    assert (settings.storage.bucket, settings.storage.prefix) == ("attachments", "prod")
    assert settings.storage_s3_endpoint == "https://minio.example:9000"
    assert settings.storage_s3_secret_access_key is not None
    assert settings.storage_s3_secret_access_key.get_secret_value() == "from-a-file"
    assert "from-a-file" not in repr(settings)
    assert settings.attachment_max_bytes == 1_048_576
