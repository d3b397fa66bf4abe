"""Arrows point one way: core <- domains <- rest <- api/realtime/worker."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "services" / "taskboard"
LAYERS = ("taskboard.api", "taskboard.realtime", "taskboard.worker", "taskboard.cli")
DOMAINS = (
    "users",
    "auth",
    "boards",
    "columns",
    "tasks",
    "comments",
    "labels",
    "events",
    "idempotency",
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_domains_and_core_never_import_the_deployments() -> None:
    offenders = []
    for package in (*DOMAINS, "core", "rest"):
        for path in (ROOT / package).rglob("*.py"):
            bad = [m for m in _imports(path) if m.startswith(LAYERS)]
            offenders += [f"{path.relative_to(ROOT)} imports {m}" for m in bad]
    assert offenders == []


def test_core_imports_no_domain_and_no_web_framework() -> None:
    offenders = []
    for path in (ROOT / "core").rglob("*.py"):
        for module in _imports(path):
            top = module.split(".")
            if module.startswith("taskboard.") and top[1] in (*DOMAINS, "rest"):
                offenders.append(f"{path.name} imports {module}")
            if top[0] in ("fastapi", "starlette"):
                offenders.append(f"{path.name} imports {module}")
    assert offenders == []


def test_deployments_do_not_import_each_other() -> None:
    offenders = []
    for package in ("api", "realtime", "worker"):
        others = tuple(f"taskboard.{p}" for p in ("api", "realtime", "worker") if p != package)
        for path in (ROOT / package).rglob("*.py"):
            offenders += [
                f"{path.relative_to(ROOT)} imports {m}"
                for m in _imports(path)
                if m.startswith(others)
            ]
    assert offenders == []
