"""`taskboard up` stores files under its data dir (checked in process: no servers start)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from taskboard import cli
from taskboard.core.config import Settings


@pytest.fixture
def restored_environ() -> Iterator[None]:
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_up(monkeypatch: pytest.MonkeyPatch, data_dir: Path, **env: str) -> Settings:
    @contextmanager
    def no_servers(_data_dir: Path, *, persistent: bool) -> Iterator[dict[str, str]]:
        yield {
            "TASKBOARD_DATABASE_URL": "postgresql://u@127.0.0.1:1/db",
            "TASKBOARD_REDIS_URL": "redis://127.0.0.1:1/0",
        }

    served: dict[str, Any] = {}
    monkeypatch.setattr(cli, "_embedded_services", no_servers)
    monkeypatch.setattr(cli, "_migrate", lambda _url: None)
    monkeypatch.setattr(cli, "_port_free", lambda _host, _port: None)
    monkeypatch.setattr(cli, "_serve", lambda app, **kwargs: served.update(kwargs))
    for name in list(os.environ):
        if name.startswith("TASKBOARD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TASKBOARD_SECRETS_DIR", str(data_dir / "no-secrets"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = argparse.Namespace(host="127.0.0.1", port=8000, data_dir=str(data_dir), ephemeral=False)
    cli.cmd_up(args)
    settings = served["settings"]
    assert isinstance(settings, Settings)
    return settings


@pytest.mark.usefixtures("restored_environ")
def test_up_keeps_files_in_its_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = run_up(monkeypatch, tmp_path / "data")
    assert settings.storage is not None
    assert settings.storage.kind == "local"
    assert settings.storage.path == (tmp_path / "data" / "files").resolve()
    assert settings.storage_url == cli.local_storage_url(tmp_path / "data")


@pytest.mark.usefixtures("restored_environ")
def test_up_leaves_a_configured_storage_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = run_up(monkeypatch, tmp_path / "data", TASKBOARD_STORAGE_URL="s3://kept/here")
    assert settings.storage is not None
    assert (settings.storage.kind, settings.storage.bucket) == ("s3", "kept")
