"""The offline tools every delivery check uses: Helm's engine (helm-python-sdk), Kubernetes'
schemas (kubernetes-validate), checkov, kubectl kustomize and terraform. A missing tool fails
the test that needs it with what to install; it never skips."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "taskboard"
KUSTOMIZE = ROOT / "k8s"
TERRAFORM = ROOT / "terraform"
# The Kubernetes minor versions the chart and the manifests promise to work on.
KUBE_VERSIONS = ("1.29", "1.30", "1.31", "1.32", "1.33")
RELEASE = "tb"
NAMESPACE = "taskboard"


def ci_values_files() -> list[Path]:
    return sorted((CHART / "ci").glob("*-values.yaml"))


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text()) or {}


def render_chart(
    values: dict[str, Any] | None = None,
    *,
    name: str = RELEASE,
    namespace: str = NAMESPACE,
    include_tests: bool = False,
) -> list[dict[str, Any]]:
    """Every object the chart renders with `values` (validated against values.schema.json by
    Helm itself: a bad value raises helm_python.HelmValuesError)."""
    with helm_python.Chart.load(CHART) as chart:
        manifests = chart.render(values=values or {}, name=name, namespace=namespace)
    objects: list[dict[str, Any]] = []
    for path, text in sorted(manifests.items()):
        if not include_tests and "/templates/tests/" in f"/{path}":
            continue
        if not path.endswith((".yaml", ".yml")):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def find(objects: Iterable[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    for obj in objects:
        if obj["kind"] == kind and (name is None or obj["metadata"]["name"] == name):
            return obj
    raise AssertionError(f"no {kind} {name or ''} among the rendered objects")


def all_of(objects: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def helm_lint(values: dict[str, Any] | None = None, kube_version: str = "1.30") -> list[str]:
    """Helm lint in strict mode: every error and warning, as text (empty when clean)."""
    result = helm_python.lint(
        CHART, values or {}, strict=True, kube_version=f"v{kube_version}.0", quiet=False
    )
    problems = [str(error) for error in result.get("errors") or []]
    problems += [
        f"{m.get('path')}: {m.get('error')}"
        for m in result.get("messages") or []
        if int(m.get("severity", 0)) >= 2
    ]
    return problems


BUILT_IN_GROUPS = {
    "",
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
}


def _group(obj: dict[str, Any]) -> str:
    api_version: str = obj["apiVersion"]
    return api_version.rpartition("/")[0]


def schema_errors(obj: dict[str, Any], kube_version: str) -> list[str]:
    """Strict validation against the Kubernetes schemas of one minor version. Custom resources
    (ServiceMonitor, ScaledObject, HTTPRoute...) have no schema there: kubernetes-validate
    reports them as unknown, and their own schemas are checked by the tests that render them."""
    try:
        kubernetes_validate.validate(obj, kube_version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{obj['kind']}/{obj['metadata'].get('name')}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        # Only the custom resources may lack a schema; a built-in kind with no schema is a
        # wrong apiVersion (a removed beta, a typo).
        if _group(obj) in BUILT_IN_GROUPS:
            return [f"{obj['kind']}/{obj['metadata'].get('name')}: no such kind in {kube_version}"]
    return []


def require_tool(name: str, env: str | None = None) -> str:
    path = os.environ.get(env or "") if env else None
    path = path or shutil.which(name)
    if not path or not Path(path).exists():
        pytest.fail(
            f"{name} is needed by the delivery checks and was not found"
            + (f" (set {env} or put it on PATH)" if env else " on PATH")
        )
    return path


def checkov_failures(target: Path, framework: str) -> list[str]:
    """checkov's failed checks on a file or directory, offline; checks skipped in place (with
    their written reason) are not failures. `make check` installs checkov in .venv-checkov."""
    checkov = require_tool("checkov", env="TASKBOARD_CHECKOV")
    flag = "-d" if target.is_dir() else "-f"
    env = {
        **os.environ,
        "BC_SKIP_MAPPING": "TRUE",
        "CKV_SKIP_PACKAGE_UPDATE_CHECK": "TRUE",
        "LOG_LEVEL": "ERROR",
    }
    proc = subprocess.run(
        [
            checkov,
            flag,
            str(target),
            "--framework",
            framework,
            "--skip-download",
            "--quiet",
            "--compact",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    if not proc.stdout.strip():
        pytest.fail(f"checkov printed nothing (exit {proc.returncode}): {proc.stderr[-2000:]}")
    reports = json.loads(proc.stdout)
    if isinstance(reports, dict):
        reports = [reports] if "results" in reports else []
    failures: list[str] = []
    for report in reports:
        for check in report["results"]["failed_checks"]:
            failures.append(
                f"{check['check_id']} {check['check_name']} "
                f"({check['file_path']}: {check.get('resource')})"
            )
    return failures


def kustomize_build(overlay: Path) -> list[dict[str, Any]]:
    kubectl = require_tool("kubectl")
    proc = subprocess.run(
        [kubectl, "kustomize", str(overlay)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def containers(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every container (init containers included) of a workload's pod template."""
    spec = obj["spec"]
    pod = (
        spec.get("template", {}).get("spec")
        or spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec")
        or spec
    )
    yield from pod.get("initContainers", [])
    yield from pod.get("containers", [])
