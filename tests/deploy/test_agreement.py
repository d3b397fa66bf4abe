"""Every way of running taskboard (the Helm chart, the kustomize overlays, Compose, Skaffold and
the image) agrees with the application itself: each container's command parses with the real
`taskboard` command line and is the one its component runs; every setting it passes is one
the application reads; probes ask paths the application serves, on the port it listens on;
secrets land as the files the application looks for; graces outlast the drains they cover.
The truth is read from the code (the argument parser, Settings, the apps' routes), never
from a list kept here."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from taskboard.cli import build_parser
from taskboard.core.config import DEFAULT_SECRETS_DIR, Settings
from taskboard.realtime.app import create_app as realtime_app
from taskboard.worker.app import create_app as worker_app
from tests.conftest import TEST_SECRET
from tests.deploy.tooling import (
    CHART,
    KUSTOMIZE,
    ROOT,
    kustomize_build,
    load_yaml,
    render_chart,
)

COMPONENTS = ("api", "realtime", "worker")
SETTINGS = {f"TASKBOARD_{name.upper()}" for name in Settings.model_fields}
# Variables the processes read that are not Settings fields, each for a reason.
OTHER_VARIABLES = {
    "TASKBOARD_SECRETS_DIR",  # where Settings finds its secret files
    "PROMETHEUS_MULTIPROC_DIR",  # prometheus_client's, for pods of several processes
    "TMPDIR",  # where spooled uploads and thumbnails go (a writable emptyDir)
    "HOME",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
}
DEFAULTS = Settings.model_fields


def _default(name: str) -> Any:
    return DEFAULTS[name].default


def _apps() -> list[Any]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="postgresql://x@127.0.0.1:1/x",
        redis_url="redis://127.0.0.1:1/0",
        secret_key=TEST_SECRET,
        env="test",
    )
    from taskboard.api.app import create_app as api_app

    return [api_app(settings), worker_app(settings), realtime_app(settings)]


async def _serves(app: Any, path: str) -> bool:
    """Whether `app` routes `path` (asked for real, lifespan not run: /readyz may fail
    without its database, but a path nobody serves is a 404)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
        response = await client.get(path, headers={"accept": "application/json"})
    return response.status_code != 404


async def _served_by_every_app(paths: set[str]) -> set[str]:
    apps = _apps()
    return {path for path in paths if all([await _serves(app, path) for app in apps])}


@dataclass
class Workload:
    """One container of the taskboard image, as some delivery runs it."""

    source: str
    component: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    secret_files: set[str] = field(default_factory=set)  # names under TASKBOARD_SECRETS_DIR
    http_port: int | None = None
    metrics_port: int | None = None
    probe_paths: set[str] = field(default_factory=set)
    grace_seconds: float | None = None
    pre_stop_seconds: float = 0.0


# --- reading Kubernetes objects ------------------------------------------------------------


def _env_of(container: dict[str, Any], objects: list[dict[str, Any]]) -> dict[str, str]:
    env: dict[str, str] = {}
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef") or source.get("secretRef")
        kind = "ConfigMap" if "configMapRef" in source else "Secret"
        found = by_name.get((kind, ref["name"]))
        if found is not None:
            data = {**found.get("data", {}), **found.get("stringData", {})}
            env.update({key: str(value) for key, value in data.items()})
        else:  # an existing Secret the chart does not make: its keys are unknown here
            env[f"<{kind} {ref['name']}>"] = ""
    for variable in container.get("env", []):
        env[variable["name"]] = str(variable.get("value", "<from a reference>"))
    return env


def _secret_files(
    pod: dict[str, Any], container: dict[str, Any], objects: list[dict[str, Any]], secrets_dir: str
) -> set[str]:
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    names: set[str] = set()
    for mount in container.get("volumeMounts", []):
        if mount["mountPath"].rstrip("/") != secrets_dir.rstrip("/"):
            continue
        volume = volumes[mount["name"]]
        sources = [volume] if "secret" in volume else []
        sources += [
            {"secret": projected["secret"]}
            for projected in volume.get("projected", {}).get("sources", [])
            if "secret" in projected
        ]
        for source in sources:
            secret = source["secret"]
            if secret.get("items"):
                names |= {item["path"] for item in secret["items"]}
            else:
                made = by_name.get(("Secret", secret["secretName"]))
                assert made is not None, (
                    f"secret {secret['secretName']} is mounted without items, so its keys are "
                    "the file names, and no rendered Secret says what they are"
                )
                names |= set(made.get("data", {})) | set(made.get("stringData", {}))
    return names


def _seconds(command: list[str]) -> float:
    """The pause of a preStop exec (`sleep N` or Python's time.sleep(N))."""
    text = " ".join(command)
    found = re.search(r"sleep\(?\s*(\d+(?:\.\d+)?)", text)
    assert found, f"cannot read the pause of preStop {command}"
    return float(found.group(1))


def _kube_workloads(objects: list[dict[str, Any]], source: str) -> Iterator[Workload]:
    for obj in objects:
        if obj["kind"] != "Deployment":
            continue
        component = obj["metadata"]["labels"]["app.kubernetes.io/component"]
        pod = obj["spec"]["template"]["spec"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            if "taskboard" not in container["image"]:
                continue
            args = [*container.get("command", []), *container.get("args", [])]
            if args and args[0] == "taskboard":
                args = args[1:]
            env = _env_of(container, objects)
            secrets_dir = env.get("TASKBOARD_SECRETS_DIR", DEFAULT_SECRETS_DIR)
            ports = {port.get("name"): port["containerPort"] for port in container.get("ports", [])}
            probes = [container.get(p) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
            pre_stop = container.get("lifecycle", {}).get("preStop")
            is_init = container in pod.get("initContainers", [])
            yield Workload(
                source=f"{source} {obj['metadata']['name']}/{container['name']}",
                component=f"{component}:init" if is_init else component,
                args=args,
                env=env,
                secret_files=_secret_files(pod, container, objects, secrets_dir),
                http_port=ports.get("http"),
                metrics_port=ports.get("metrics"),
                probe_paths={p["httpGet"]["path"] for p in probes if p and "httpGet" in p},
                grace_seconds=pod.get("terminationGracePeriodSeconds", 30),
                pre_stop_seconds=(
                    _seconds(pre_stop["exec"]["command"])
                    if pre_stop and "exec" in pre_stop
                    else float(pre_stop["sleep"]["seconds"])
                    if pre_stop and "sleep" in pre_stop
                    else 0.0
                ),
            )


def _chart_workloads() -> list[Workload]:
    found: list[Workload] = []
    for values in sorted((CHART / "ci").glob("*-values.yaml")):
        found += _kube_workloads(render_chart(load_yaml(values)), f"chart[{values.name}]")
    return found


def _kustomize_workloads() -> list[Workload]:
    found: list[Workload] = []
    for overlay in sorted((KUSTOMIZE / "overlays").iterdir()):
        found += _kube_workloads(kustomize_build(overlay), f"kustomize[{overlay.name}]")
    return found


def _duration(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    total = 0.0
    for amount, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text):
        total += float(amount) * units[unit]
    return total


def _compose_workloads() -> list[Workload]:
    compose = load_yaml(ROOT / "docker-compose.yml")
    found: list[Workload] = []
    for name, service in compose["services"].items():
        if "taskboard" not in str(service.get("image", "")):
            continue
        command = service.get("command", [])
        args = shlex.split(command) if isinstance(command, str) else list(command)
        env = service.get("environment", {})
        if isinstance(env, list):
            env = dict(item.split("=", 1) for item in env)
        check = service.get("healthcheck", {}).get("test", [])
        paths = set(re.findall(r"(/healthz|/readyz|/[a-z]+z)\b", " ".join(check)))
        grace = service.get("stop_grace_period")
        found.append(
            Workload(
                source=f"compose {name}",
                component=args[0] if args else "api",
                args=args or ["api"],
                env={key: str(value) for key, value in env.items()},
                probe_paths=paths,
                grace_seconds=_duration(grace) if grace else 10.0,
            )
        )
    return found


def _all_workloads() -> list[Workload]:
    return _chart_workloads() + _kustomize_workloads() + _compose_workloads()


WORKLOADS = _all_workloads()
IDS = [w.source for w in WORKLOADS]


def test_every_delivery_runs_each_component() -> None:
    for source in ("chart[default-values.yaml]", "kustomize[prod]", "compose"):
        components = {w.component for w in WORKLOADS if w.source.startswith(source)}
        assert set(COMPONENTS) <= components, (source, components)


@pytest.mark.parametrize("workload", WORKLOADS, ids=IDS)
def test_the_command_is_the_applications(workload: Workload) -> None:
    parser = build_parser()
    try:
        parsed = parser.parse_args(workload.args)
    except SystemExit:
        pytest.fail(f"{workload.source}: `taskboard {' '.join(workload.args)}` does not parse")
    if workload.component.endswith(":init"):
        # Init containers wait for the schema; they never migrate it themselves.
        assert parsed.command == "migrate", workload.args
        assert parsed.wait, workload.args
    elif workload.component in COMPONENTS:
        assert parsed.command == workload.component, workload.args


@pytest.mark.parametrize("workload", WORKLOADS, ids=IDS)
def test_every_variable_is_one_the_application_reads(workload: Workload) -> None:
    unknown = {
        name
        for name in workload.env
        if not name.startswith("<") and name not in SETTINGS | OTHER_VARIABLES
    }
    assert not unknown, f"{workload.source} sets variables nothing reads: {sorted(unknown)}"


@pytest.mark.parametrize("workload", WORKLOADS, ids=IDS)
def test_secret_files_are_named_as_settings_read_them(workload: Workload) -> None:
    # pydantic-settings looks for <prefix><field> in TASKBOARD_SECRETS_DIR.
    unknown = {name for name in workload.secret_files if name.upper() not in SETTINGS}
    assert not unknown, f"{workload.source} mounts secret files nothing reads: {sorted(unknown)}"


@pytest.mark.parametrize(
    "workload", [w for w in WORKLOADS if w.component in COMPONENTS], ids=lambda w: w.source
)
async def test_probes_and_ports_are_the_applications(workload: Workload) -> None:
    assert workload.probe_paths, f"{workload.source} has no health check"
    served = await _served_by_every_app(workload.probe_paths)
    assert workload.probe_paths == served, (workload.source, workload.probe_paths - served)
    listens = int(workload.env.get("TASKBOARD_PORT", _default("port")))
    if workload.http_port is not None:
        assert workload.http_port == listens, workload.source
    metrics = int(workload.env.get("TASKBOARD_METRICS_PORT", _default("metrics_port")))
    if workload.metrics_port is not None:
        assert workload.metrics_port == metrics, workload.source


@pytest.mark.parametrize(
    "workload",
    [w for w in WORKLOADS if w.component in ("realtime", "api", "worker")],
    ids=lambda w: w.source,
)
def test_the_grace_outlasts_the_drain(workload: Workload) -> None:
    if workload.component == "worker":
        drain = float(
            workload.env.get(
                "TASKBOARD_WORKER_SHUTDOWN_TIMEOUT_SECONDS",
                _default("worker_shutdown_timeout_seconds"),
            )
        )
    else:
        drain = float(
            workload.env.get(
                "TASKBOARD_GRACEFUL_TIMEOUT_SECONDS", _default("graceful_timeout_seconds")
            )
        )
    assert workload.grace_seconds is not None
    assert workload.grace_seconds > workload.pre_stop_seconds + drain, (
        f"{workload.source}: grace {workload.grace_seconds}s, preStop "
        f"{workload.pre_stop_seconds}s + drain {drain}s"
    )


def test_the_image_runs_what_the_manifests_ask() -> None:
    dockerfile = (ROOT / "services" / "Dockerfile").read_text()
    final = dockerfile.split("\nFROM ")[-1]
    entrypoint = re.search(r"^ENTRYPOINT\s+(\[.*\])", final, re.MULTILINE)
    assert entrypoint
    assert yaml.safe_load(entrypoint.group(1)) == ["taskboard"]
    exposed = {
        int(p) for line in re.findall(r"^EXPOSE\s+(.*)$", final, re.MULTILINE) for p in line.split()
    }
    assert {_default("port"), _default("metrics_port")} <= exposed


def test_skaffold_forwards_the_services_the_chart_makes() -> None:
    skaffold = load_yaml(ROOT / "skaffold.yaml")
    release = skaffold["deploy"]["helm"]["releases"][0]
    assert Path(ROOT / release["chartPath"]).resolve() == CHART.resolve()
    services = {
        obj["metadata"]["name"]: obj
        # Service names depend on the release's name, not on its settings.
        for obj in render_chart(
            load_yaml(CHART / "ci" / "existing-secret-values.yaml"),
            name=release["name"],
            namespace="default",
        )
        if obj["kind"] == "Service"
    }
    forwards = skaffold.get("portForward", [])
    assert forwards
    for forward in forwards:
        assert forward["resourceType"].lower() == "service"
        service = services.get(forward["resourceName"])
        assert service is not None, (forward["resourceName"], sorted(services))
        assert forward["port"] in {port["port"] for port in service["spec"]["ports"]}
