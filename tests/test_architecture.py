"""The layer contract in pyproject.toml ([tool.importlinter]) is checked by `make lint`.
These tests prove it bites: a copy of the package with one forbidden import added must fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "services" / "taskboard"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_copy(tmp_path: Path, relative: str, line: str) -> subprocess.CompletedProcess[str]:
    """Run the project's contracts over a copy of the package with `line` added to a file."""
    copy = tmp_path / "taskboard"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text((target.read_text() if target.exists() else "") + f"\n{line}\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_contract_holds_for_the_tree_as_it_is(tmp_path: Path) -> None:
    result = _lint_copy(tmp_path, "core/__init__.py", "")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("relative", "line", "broken"),
    [
        # A lower floor importing a higher one: core reaching up into a domain.
        ("core/db.py", "import taskboard.tasks.service", "imports only point down"),
        # A domain importing the snapshot read model that sits above it.
        ("tasks/service.py", "import taskboard.snapshots.service", "imports only point down"),
        # One deployment importing another.
        ("api/app.py", "import taskboard.realtime.hub", "imports only point down"),
        # Domain logic reaching for the web framework.
        ("tasks/service.py", "import fastapi", "FastAPI and Starlette only"),
        # A production process pulling in the laptop-only embedded servers.
        ("worker/relay.py", "import taskboard.embedded.servers", "embedded servers"),
        # A package nobody gave a floor: the layers are exhaustive.
        ("reminders/__init__.py", "import taskboard.core", "imports only point down"),
    ],
)
def test_a_forbidden_import_breaks_the_contract(
    tmp_path: Path, relative: str, line: str, broken: str
) -> None:
    result = _lint_copy(tmp_path, relative, line)
    assert result.returncode != 0, result.stdout
    verdicts = [line for line in result.stdout.splitlines() if line.rstrip().endswith("BROKEN")]
    assert any(broken in line for line in verdicts), result.stdout
