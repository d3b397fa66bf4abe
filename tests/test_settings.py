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
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ENV", "SECRETS_DIR"):
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
