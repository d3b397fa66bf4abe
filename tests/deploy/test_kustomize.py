"""kustomize (k8s/): both overlays build with `kubectl kustomize`, every object validates strictly
against every supported Kubernetes version, checkov finds nothing, and the manifests keep the
chart's promises: restricted pods, the schema wait in every pod, autoscaled Deployments without
replicas, /ws to realtime, settings the application really reads, and one topology in dev and
prod. Each check is a function returning its problems, fed broken copies too, so that each can
be seen to fail."""

from __future__ import annotations

import base64
import copy
import os
import re
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from taskboard.core.config import (
    DEFAULT_SECRETS_DIR,
    ConfigurationError,
    Settings,
    load_database_url,
    load_settings,
)
from taskboard.routing import health
from tests.deploy.tooling import (
    KUBE_VERSIONS,
    KUSTOMIZE,
    NAMESPACE,
    all_of,
    checkov_failures,
    containers,
    find,
    kustomize_build,
    schema_errors,
)

Obj = dict[str, Any]
T = TypeVar("T")

OVERLAYS = ("dev", "prod")
IMAGE = "ghcr.io/taskboard/taskboard"
COMPONENTS = ("api", "realtime", "worker")
SELECTOR_LABELS = {"app.kubernetes.io/name": "taskboard", "app.kubernetes.io/instance": "taskboard"}
WORKLOAD_KINDS = ("Deployment", "Job")
ROOT_USER = 10001
TMP = "/tmp"  # noqa: S108 (a path inside the pod, where the app spools thumbnails)
# What k8s/README.md tells the prod operator to put in the Secret they create.
PROD_SECRET_KEYS = ("TASKBOARD_DATABASE_URL", "TASKBOARD_REDIS_URL", "TASKBOARD_SECRET_KEY")
SLEEP = re.compile(r"time\.sleep\((\d+(?:\.\d+)?)\)")
SKIP_ANNOTATION = re.compile(r"^(CKV2?_K8S_\d+)=(.+)$", re.DOTALL)


@pytest.fixture(scope="module")
def built() -> dict[str, list[Obj]]:
    return {overlay: kustomize_build(KUSTOMIZE / "overlays" / overlay) for overlay in OVERLAYS}


def workloads(objects: list[Obj]) -> list[Obj]:
    return [obj for obj in objects if obj["kind"] in WORKLOAD_KINDS]


def pod_spec(obj: Obj) -> Obj:
    spec: Obj = obj["spec"]["template"]["spec"]
    return spec


def main_container(obj: Obj) -> Obj:
    return next(c for c in pod_spec(obj)["containers"] if c["name"] == "taskboard")


def component(obj: Obj) -> str:
    return str(obj["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"])


def deployment(objects: list[Obj], name: str) -> Obj:
    return find(objects, "Deployment", f"taskboard-{name}")


def config_map(objects: list[Obj]) -> dict[str, str]:
    data: dict[str, str] = all_of(objects, "ConfigMap")[0]["data"]
    return data


def selects(selector: Obj, labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels, matchExpressions with In/NotIn/Exists)."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        value = labels.get(expr["key"])
        operator = expr["operator"]
        if operator == "In" and value not in expr["values"]:
            return False
        if operator == "NotIn" and value in expr["values"]:
            return False
        if operator == "Exists" and value is None:
            return False
        if operator == "DoesNotExist" and value is not None:
            return False
    return True


def _mutated(obj: Obj, change: Callable[[Obj], None]) -> Obj:
    broken = copy.deepcopy(obj)
    change(broken)
    return broken


# ---- the checks -------------------------------------------------------------------------------


def restricted_problems(obj: Obj) -> list[str]:
    """The restricted Pod Security Standard and what the chart adds: numeric non-root 10001,
    read-only root with /tmp on an emptyDir, no service-account token."""
    name = f"{obj['kind']}/{obj['metadata']['name']}"
    pod = pod_spec(obj)
    pod_ctx = pod.get("securityContext") or {}
    problems: list[str] = []
    if pod.get("automountServiceAccountToken") is not False:
        problems.append(f"{name}: automountServiceAccountToken is not false")
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        problems.append(f"{name}: shares a host namespace")
    empty_dirs = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
    for c in containers(obj):
        ctx = c.get("securityContext") or {}
        where = f"{name} container {c['name']}"

        def effective(key: str, ctx: Obj = ctx) -> Any:
            return ctx.get(key, pod_ctx.get(key))

        if effective("runAsNonRoot") is not True:
            problems.append(f"{where}: runAsNonRoot is not true")
        if effective("runAsUser") != ROOT_USER:
            problems.append(f"{where}: runAsUser is not {ROOT_USER}")
        if ctx.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation is not false")
        if ctx.get("privileged"):
            problems.append(f"{where}: privileged")
        if ctx.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{where}: the root filesystem is writable")
        capabilities = ctx.get("capabilities") or {}
        if capabilities.get("drop") != ["ALL"] or capabilities.get("add"):
            problems.append(f"{where}: capabilities are not exactly drop [ALL]")
        if (effective("seccompProfile") or {}).get("type") != "RuntimeDefault":
            problems.append(f"{where}: seccomp is not RuntimeDefault")
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        if mounts.get(TMP) not in empty_dirs:
            problems.append(f"{where}: /tmp is not an emptyDir")
        for env in c.get("env", []):
            if env["name"] == "PROMETHEUS_MULTIPROC_DIR" and mounts.get(env["value"]) not in (
                empty_dirs
            ):
                problems.append(f"{where}: PROMETHEUS_MULTIPROC_DIR is not an emptyDir")
    return problems


def schema_wait_problems(obj: Obj) -> list[str]:
    """Every Deployment's pods wait, in an init container of the same image, for the schema."""
    name = obj["metadata"]["name"]
    image = main_container(obj)["image"]
    for init in pod_spec(obj).get("initContainers", []):
        argv = [*init.get("command", []), *init.get("args", [])]
        if argv[:3] == ["taskboard", "migrate", "--wait"]:
            if init["image"] != image:
                return [f"{name}: the schema wait runs {init['image']}, not {image}"]
            return []
    return [f"{name}: no init container runs `taskboard migrate --wait`"]


def autoscaler_problems(objects: list[Obj]) -> list[str]:
    """A Deployment an HPA owns carries no replicas (each apply would reset the HPA's count)."""
    problems: list[str] = []
    for hpa in all_of(objects, "HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        if target["kind"] != "Deployment":
            problems.append(f"HPA {hpa['metadata']['name']} targets a {target['kind']}")
            continue
        owned = [
            d for d in all_of(objects, "Deployment") if d["metadata"]["name"] == target["name"]
        ]
        if not owned:
            problems.append(f"HPA {hpa['metadata']['name']} targets no Deployment here")
        elif "replicas" in owned[0]["spec"]:
            problems.append(f"Deployment {target['name']} has replicas though an HPA owns it")
    return problems


def minimum_pods(objects: list[Obj], dep: Obj) -> int:
    for hpa in all_of(objects, "HorizontalPodAutoscaler"):
        if hpa["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"]:
            return int(hpa["spec"].get("minReplicas", 1))
    return int(dep["spec"].get("replicas", 1))


def disruption_budget_problems(objects: list[Obj]) -> list[str]:
    """Each PDB covers exactly one Deployment, one that always runs more than one pod (a budget
    on a single pod blocks every node drain)."""
    problems: list[str] = []
    for pdb in all_of(objects, "PodDisruptionBudget"):
        covered = [
            d
            for d in all_of(objects, "Deployment")
            if selects(pdb["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
        ]
        if len(covered) != 1:
            problems.append(f"PDB {pdb['metadata']['name']} covers {len(covered)} Deployments")
        elif minimum_pods(objects, covered[0]) < 2:
            problems.append(f"PDB {pdb['metadata']['name']} covers a single pod")
    return problems


def routes(objects: list[Obj]) -> dict[str, str]:
    """The Ingress's paths, each to the component whose pods its Service selects."""
    ingress = find(objects, "Ingress")
    table: dict[str, str] = {}
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            service = find(objects, "Service", path["backend"]["service"]["name"])
            port = path["backend"]["service"]["port"]
            assert any(p["name"] == port.get("name") for p in service["spec"]["ports"]), port
            table[path["path"]] = service["spec"]["selector"]["app.kubernetes.io/component"]
    return table


def grace_problems(objects: list[Obj]) -> list[str]:
    """The kubelet's SIGKILL never cuts a drain short: each grace period exceeds the preStop
    pause plus the drain the settings allow."""
    settings = config_map(objects)
    graceful = float(settings.get("TASKBOARD_GRACEFUL_TIMEOUT_SECONDS", 25))
    shutdown = float(settings.get("TASKBOARD_WORKER_SHUTDOWN_TIMEOUT_SECONDS", 25))
    problems: list[str] = []
    for dep in all_of(objects, "Deployment"):
        grace = pod_spec(dep).get("terminationGracePeriodSeconds", 30)
        pre_stop = main_container(dep).get("lifecycle", {}).get("preStop")
        pause = 0.0
        if pre_stop:
            match = SLEEP.search(" ".join(pre_stop["exec"]["command"]))
            pause = float(match.group(1)) if match else 0.0
        # The worker's drain: its actors' timeout, and gunicorn's 5 s more (cli.cmd_worker).
        drain = shutdown + 5 if component(dep) == "worker" else graceful
        if component(dep) == "realtime" and pause <= 0:
            problems.append("realtime has no preStop pause before its sockets close")
        if grace <= pause + drain:
            problems.append(
                f"{dep['metadata']['name']}: grace {grace} s <= preStop {pause} + drain {drain}"
            )
    return problems


def release_problems(objects: list[Obj]) -> list[str]:
    """One image and tag everywhere, and the migration Job named after that tag."""
    tags = {c["image"] for obj in workloads(objects) for c in containers(obj)}
    if len(tags) != 1:
        return [f"several images: {sorted(tags)}"]
    image = tags.pop()
    repository, _, tag = image.rpartition(":")
    problems = [] if repository == IMAGE else [f"image {image} is not {IMAGE}"]
    jobs = all_of(objects, "Job")
    expected = f"taskboard-migrate-{tag.replace('.', '-')}"
    if [job["metadata"]["name"] for job in jobs] != [expected]:
        problems.append(f"migration Jobs {[j['metadata']['name'] for j in jobs]}, not {expected}")
    return problems


def egress_ports(objects: list[Obj], labels: dict[str, str]) -> set[int | str]:
    ports: set[int | str] = set()
    for policy in all_of(objects, "NetworkPolicy"):
        if selects(policy["spec"]["podSelector"], labels):
            for rule in policy["spec"].get("egress", []):
                ports |= {p["port"] for p in rule.get("ports", [])}
    return ports


def ingress_peers(objects: list[Obj], labels: dict[str, str], port: str) -> list[Obj]:
    peers: list[Obj] = []
    for policy in all_of(objects, "NetworkPolicy"):
        if selects(policy["spec"]["podSelector"], labels):
            for rule in policy["spec"].get("ingress", []):
                if any(p["port"] == port for p in rule.get("ports", [])):
                    peers.extend(rule.get("from") or [{"anywhere": True}])
    return peers


# ---- builds, schemas, checkov -----------------------------------------------------------------


def test_both_overlays_build_with_the_namespace_set(built: dict[str, list[Obj]]) -> None:
    for overlay, objects in built.items():
        assert objects, overlay
        namespaced = [o for o in objects if o["kind"] != "Namespace"]
        assert {o["metadata"].get("namespace") for o in namespaced} == {NAMESPACE}, overlay


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_strictly(
    built: dict[str, list[Obj]], overlay: str, kube_version: str
) -> None:
    errors = [e for obj in built[overlay] for e in schema_errors(obj, kube_version)]
    assert errors == []


def test_a_wrong_field_fails_the_schema(built: dict[str, list[Obj]]) -> None:
    dep = deployment(built["prod"], "api")
    broken = _mutated(dep, lambda d: d["spec"].update(maxSurge=1))  # belongs under strategy
    assert schema_errors(broken, KUBE_VERSIONS[0])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_checkov_finds_nothing(built: dict[str, list[Obj]], overlay: str, tmp_path: Path) -> None:
    rendered = tmp_path / f"{overlay}.yaml"
    rendered.write_text(yaml.safe_dump_all(built[overlay], sort_keys=False))
    assert checkov_failures(rendered, "kubernetes") == []


def test_checkov_fails_a_privileged_pod(built: dict[str, list[Obj]], tmp_path: Path) -> None:
    def privileged(dep: Obj) -> None:
        main_container(dep)["securityContext"] = {"privileged": True}

    rendered = tmp_path / "broken.yaml"
    rendered.write_text(yaml.safe_dump(_mutated(deployment(built["prod"], "api"), privileged)))
    assert checkov_failures(rendered, "kubernetes")


def test_checkov_skips_are_in_place_with_reasons(built: dict[str, list[Obj]]) -> None:
    for objects in built.values():
        for obj in objects:
            annotations = obj["metadata"].get("annotations") or {}
            for key, value in annotations.items():
                if key.startswith("checkov.io/skip"):
                    match = SKIP_ANNOTATION.match(value)
                    assert match, f"{obj['metadata']['name']} {key}: {value!r}"
                    assert len(match.group(2).split()) >= 5, f"no reason given: {value!r}"


# ---- pods -------------------------------------------------------------------------------------


def test_every_container_is_restricted(built: dict[str, list[Obj]]) -> None:
    for objects in built.values():
        assert workloads(objects)
        for obj in workloads(objects):
            assert restricted_problems(obj) == []


def unconfined(dep: Obj) -> None:
    pod_spec(dep)["securityContext"]["seccompProfile"] = {"type": "Unconfined"}
    main_container(dep)["securityContext"].pop("seccompProfile")


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: main_container(d)["securityContext"].update(readOnlyRootFilesystem=False),
        lambda d: main_container(d)["securityContext"].update(allowPrivilegeEscalation=True),
        lambda d: main_container(d)["securityContext"]["capabilities"].update(drop=["NET_RAW"]),
        lambda d: pod_spec(d)["initContainers"][0]["securityContext"].update(runAsUser=0),
        lambda d: pod_spec(d).update(automountServiceAccountToken=True),
        unconfined,
        lambda d: main_container(d).update(volumeMounts=[]),
    ],
    ids=["writable-root", "escalation", "caps", "root-init", "token", "seccomp", "no-tmp"],
)
def test_restricted_check_refuses(
    built: dict[str, list[Obj]], breakage: Callable[[Obj], None]
) -> None:
    assert restricted_problems(_mutated(deployment(built["prod"], "api"), breakage))


def test_every_deployment_waits_for_the_schema(built: dict[str, list[Obj]]) -> None:
    for objects in built.values():
        deployments = all_of(objects, "Deployment")
        assert {component(d) for d in deployments} == set(COMPONENTS)
        for dep in deployments:
            assert schema_wait_problems(dep) == []
    broken = _mutated(
        deployment(built["dev"], "worker"), lambda d: pod_spec(d).pop("initContainers")
    )
    assert schema_wait_problems(broken)


def test_serving_containers_probe_the_apps_health_routes(built: dict[str, list[Obj]]) -> None:
    routes_served = {route.path for route in health.router.routes}  # type: ignore[attr-defined]
    for objects in built.values():
        settings = config_map(objects)
        for dep in all_of(objects, "Deployment"):
            c = main_container(dep)
            ports = {p["name"]: p["containerPort"] for p in c["ports"]}
            assert ports == {
                "http": int(settings["TASKBOARD_PORT"]),
                "metrics": int(settings["TASKBOARD_METRICS_PORT"]),
            }
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
            assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
            for probe in ("livenessProbe", "startupProbe", "readinessProbe"):
                assert c[probe]["httpGet"]["path"] in routes_served
                assert c[probe]["httpGet"]["port"] == "http"


def test_commands_pick_the_role(built: dict[str, list[Obj]]) -> None:
    for objects in built.values():
        for dep in all_of(objects, "Deployment"):
            c = main_container(dep)
            assert [*c["command"], *c["args"]] == ["taskboard", component(dep)]
        job = find(objects, "Job")
        assert [*main_container(job)["command"], *main_container(job)["args"]] == [
            "taskboard",
            "migrate",
        ]


def test_drains_fit_in_the_grace_periods(built: dict[str, list[Obj]]) -> None:
    for objects in built.values():
        assert grace_problems(objects) == []
    too_short = _mutated(
        deployment(built["prod"], "realtime"),
        lambda d: pod_spec(d).update(terminationGracePeriodSeconds=30),
    )
    others = [o for o in built["prod"] if o["metadata"]["name"] != "taskboard-realtime"]
    assert grace_problems([*others, too_short])
    longer_drain = [
        _mutated(o, lambda cm: cm["data"].update(TASKBOARD_WORKER_SHUTDOWN_TIMEOUT_SECONDS="60"))
        if o["kind"] == "ConfigMap"
        else o
        for o in built["prod"]
    ]
    assert grace_problems(longer_drain)


def test_rollouts_keep_capacity_and_spread(built: dict[str, list[Obj]]) -> None:
    for objects in built.values():
        for dep in all_of(objects, "Deployment"):
            rolling = dep["spec"]["strategy"]["rollingUpdate"]
            assert dep["spec"]["strategy"]["type"] == "RollingUpdate"
            assert rolling["maxUnavailable"] == 0
            assert rolling["maxSurge"] not in (0, "0%")
            labels = dep["spec"]["template"]["metadata"]["labels"]
            assert selects(dep["spec"]["selector"], labels)
            spread = pod_spec(dep)["topologySpreadConstraints"]
            assert {s["topologyKey"] for s in spread} == {
                "kubernetes.io/hostname",
                "topology.kubernetes.io/zone",
            }
            for constraint in spread:
                assert selects(constraint["labelSelector"], labels)
                others = [d for d in all_of(objects, "Deployment") if d is not dep]
                for other in others:
                    other_labels = other["spec"]["template"]["metadata"]["labels"]
                    assert not selects(constraint["labelSelector"], other_labels)


def test_the_migration_job_is_named_after_the_release(built: dict[str, list[Obj]]) -> None:
    for objects in built.values():
        assert release_problems(objects) == []
        job = find(objects, "Job")
        assert job["spec"]["ttlSecondsAfterFinished"] > 0
        assert pod_spec(job)["restartPolicy"] == "Never"
        assert "initContainers" not in pod_spec(job)  # it is what the others wait for
        tag = main_container(job)["image"].rpartition(":")[2]
        assert job["metadata"]["labels"]["app.kubernetes.io/version"] == tag

    def upgrade_image_only(obj: Obj) -> None:
        for c in containers(obj):
            c["image"] = f"{IMAGE}:9.9.9"

    bumped = [
        _mutated(o, upgrade_image_only) if o["kind"] in WORKLOAD_KINDS else o for o in built["prod"]
    ]
    assert release_problems(bumped)


# ---- settings and secrets ---------------------------------------------------------------------


def secret_items(obj: Obj, c: Obj) -> list[tuple[str, str, bool]]:
    """(Secret, key, optional) of each file the container gets in TASKBOARD_SECRETS_DIR; each
    file is named after its key (the path equals the key)."""
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(obj)["volumes"]}
    volume = volumes[mounts[DEFAULT_SECRETS_DIR]]
    assert "secret" not in volume, "a whole Secret mounted: which files it holds is unknown"
    items: list[tuple[str, str, bool]] = []
    for source in volume["projected"]["sources"]:
        secret = source["secret"]
        for item in secret["items"]:
            assert item["path"] == item["key"], "the file must be named like the setting"
            items.append((secret["name"], item["key"], bool(secret.get("optional"))))
    return items


def _secret_data(objects: list[Obj], overlay: str, name: str) -> dict[str, str]:
    """The Secret as the pods see it: dev's is generated here; prod's is the operator's, with
    the keys k8s/README.md lists (here dev's values, and a real signing key)."""
    if overlay == "dev":
        data = find(objects, "Secret", name)["data"]
        return {key: base64.b64decode(value).decode() for key, value in data.items()}
    assert all_of(objects, "Secret") == []  # prod commits no secret value
    assert name == "taskboard-secrets"
    dev = all_of(kustomize_build(KUSTOMIZE / "overlays" / "dev"), "Secret")[0]["data"]
    data = {key: base64.b64decode(dev[key]).decode() for key in PROD_SECRET_KEYS}
    return {**data, "TASKBOARD_SECRET_KEY": secrets.token_urlsafe(48)}


def _write_secret_files(objects: list[Obj], overlay: str, obj: Obj, c: Obj, dest: Path) -> Path:
    """The files the kubelet would mount; a required key the Secret lacks stops the pod."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir()
    for name, key, optional in secret_items(obj, c):
        data = _secret_data(objects, overlay, name)
        if key in data:
            (dest / key).write_text(data[key])
        else:
            assert optional, f"{obj['metadata']['name']}: Secret {name} lacks {key}"
    return dest


def _container_env(objects: list[Obj], c: Obj) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in c.get("envFrom", []):
        assert "secretRef" not in source, "secrets are files, not variables"
        env.update(find(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
    for var in c.get("env", []):
        assert "secretKeyRef" not in var.get("valueFrom", {}), "secrets are files"
        env[var["name"]] = var.get("value", "pod-name-from-the-downward-api")
    return env


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No TASKBOARD_* variable or .env of this machine leaks into the settings under test."""
    for name in list(os.environ):
        if name.startswith("TASKBOARD_") or name == "PROMETHEUS_MULTIPROC_DIR":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _load(
    env: dict[str, str],
    secrets_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    loader: Callable[[], T] = load_settings,  # type: ignore[assignment]
) -> T:
    with monkeypatch.context() as m:
        # PROMETHEUS_MULTIPROC_DIR is not a setting, and would change this process's metrics.
        for key, value in env.items():
            if key.startswith("TASKBOARD_"):
                m.setenv(key, value)
        m.setenv("TASKBOARD_SECRETS_DIR", str(secrets_dir))
        return loader()


@pytest.mark.usefixtures("clean_environment")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_starts_with_these_settings(
    built: dict[str, list[Obj]], overlay: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every key is a setting the app reads (it ignores unknown ones: a typo would pass
    silently), and what each container gets, its mounted secret files included, loads."""
    objects = built[overlay]
    fields = set(Settings.model_fields)
    for key in config_map(objects):
        assert key.startswith("TASKBOARD_"), key
        assert key.removeprefix("TASKBOARD_").lower() in fields, f"{key} is no setting"
    for obj in workloads(objects):
        for c in containers(obj):
            for _, key, _ in secret_items(obj, c):
                assert key.removeprefix("TASKBOARD_").lower() in fields, f"{key} is no setting"
            secrets_dir = _write_secret_files(objects, overlay, obj, c, tmp_path / "secrets")
            env = _container_env(objects, c)
            if component(obj) == "migrate":
                # The migration gets the database URL alone: all `taskboard migrate` reads.
                assert [p.name for p in secrets_dir.iterdir()] == ["TASKBOARD_DATABASE_URL"]
            if component(obj) == "migrate" or c["name"] == "wait-for-schema":
                assert _load(env, secrets_dir, monkeypatch, load_database_url).startswith("post")
                continue
            settings = _load(env, secrets_dir, monkeypatch, load_settings)
            assert settings.storage_url, "attachments need TASKBOARD_STORAGE_URL"
            assert settings.env == ("development" if overlay == "dev" else "production")


@pytest.mark.usefixtures("clean_environment")
def test_the_dev_secrets_cannot_run_in_production(
    built: dict[str, list[Obj]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dev's committed signing key is a placeholder only TASKBOARD_ENV=development accepts."""
    dev = built["dev"]
    api = deployment(dev, "api")
    secrets_dir = _write_secret_files(dev, "dev", api, main_container(api), tmp_path / "s")
    env = {**_container_env(dev, main_container(api)), "TASKBOARD_ENV": "production"}
    with pytest.raises(ConfigurationError, match="TASKBOARD_SECRET_KEY"):
        _load(env, secrets_dir, monkeypatch)
    assert config_map(built["prod"]).get("TASKBOARD_ENV", "production") == "production"


def test_settings_changes_roll_the_pods(built: dict[str, list[Obj]]) -> None:
    """The ConfigMap (and dev's Secret) come from generators: their names carry a content hash,
    so a change is a new name in every pod template."""
    for overlay, objects in built.items():
        generated = [o for o in objects if o["kind"] in ("ConfigMap", "Secret")]
        for obj in generated:
            name = obj["metadata"]["name"]
            assert re.fullmatch(r"taskboard-(config|secrets)-[a-z0-9]{10}", name), (overlay, name)
        for obj in workloads(objects):
            refs = {s["configMapRef"]["name"] for c in containers(obj) for s in c["envFrom"]}
            assert refs == {config_map_name(objects)}


def config_map_name(objects: list[Obj]) -> str:
    return str(all_of(objects, "ConfigMap")[0]["metadata"]["name"])


# ---- scaling ----------------------------------------------------------------------------------


def test_prod_autoscaled_deployments_carry_no_replicas(built: dict[str, list[Obj]]) -> None:
    prod = built["prod"]
    owned = {h["spec"]["scaleTargetRef"]["name"] for h in all_of(prod, "HorizontalPodAutoscaler")}
    assert owned == {"taskboard-api", "taskboard-realtime"}
    assert autoscaler_problems(prod) == []
    for dep in all_of(prod, "Deployment"):
        assert ("replicas" in dep["spec"]) == (dep["metadata"]["name"] not in owned)
        assert minimum_pods(prod, dep) >= 3
    with_replicas = [
        _mutated(o, lambda d: d["spec"].update(replicas=3))
        if o["metadata"]["name"] == "taskboard-api" and o["kind"] == "Deployment"
        else o
        for o in prod
    ]
    assert autoscaler_problems(with_replicas)


def test_disruption_budgets_only_where_pods_are_many(built: dict[str, list[Obj]]) -> None:
    prod = built["prod"]
    assert len(all_of(prod, "PodDisruptionBudget")) == len(COMPONENTS)
    assert disruption_budget_problems(prod) == []
    assert all_of(built["dev"], "PodDisruptionBudget") == []
    # The same budgets over dev's single pods would block every node drain.
    single = [*all_of(built["dev"], "Deployment"), *all_of(prod, "PodDisruptionBudget")]
    assert disruption_budget_problems(single)


def test_prod_sets_resources_above_the_base(built: dict[str, list[Obj]]) -> None:
    for name in COMPONENTS:
        dev = main_container(deployment(built["dev"], name))["resources"]["requests"]
        prod = main_container(deployment(built["prod"], name))["resources"]["requests"]
        assert prod != dev, name


# ---- traffic ----------------------------------------------------------------------------------


def test_the_ingress_routes_ws_to_realtime(built: dict[str, list[Obj]]) -> None:
    for objects in built.values():
        assert routes(objects) == {"/ws": "realtime", "/api": "api", "/": "api"}
        realtime = find(objects, "Service", "taskboard-realtime")
        http = next(p for p in realtime["spec"]["ports"] if p["name"] == "http")
        assert http["appProtocol"] == "kubernetes.io/ws"
    assert find(built["prod"], "Ingress")["spec"]["tls"]


def test_services_select_exactly_their_component(built: dict[str, list[Obj]]) -> None:
    """Traffic Services (api, realtime) carry only http; /metrics has Services of its own, one
    per component, as in the chart, so that nothing routed from outside reaches it."""
    for objects in built.values():
        for service in all_of(objects, "Service"):
            name = service["metadata"]["name"]
            matched = [
                d["metadata"]["name"]
                for d in all_of(objects, "Deployment")
                if selects(
                    {"matchLabels": service["spec"]["selector"]},
                    d["spec"]["template"]["metadata"]["labels"],
                )
            ]
            assert len(matched) == 1, name
            assert name in (matched[0], f"{matched[0]}-metrics")
            ports = {p["name"] for p in service["spec"]["ports"]}
            assert ports == ({"metrics"} if name.endswith("-metrics") else {"http"}), name
        metrics = {s["metadata"]["name"] for s in all_of(objects, "Service")}
        assert {f"taskboard-{c}-metrics" for c in COMPONENTS} <= metrics


def test_network_policies(built: dict[str, list[Obj]]) -> None:
    for objects in built.values():
        deny = find(objects, "NetworkPolicy", "taskboard-default-deny")
        assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        assert "ingress" not in deny["spec"]
        assert "egress" not in deny["spec"]
        for obj in workloads(objects):
            labels = obj["spec"]["template"]["metadata"]["labels"]
            assert selects(deny["spec"]["podSelector"], labels)
            assert {53, 5432, 6379} <= egress_ports(objects, labels), obj["metadata"]["name"]
            if component(obj) == "migrate":
                assert egress_ports(objects, labels) == {53, 5432, 6379}
            peers = ingress_peers(objects, labels, "http")
            if component(obj) in ("api", "realtime"):
                assert peers, obj["metadata"]["name"]
                for peer in peers:
                    assert set(peer) == {"namespaceSelector"}, peer
            else:
                assert peers == [], obj["metadata"]["name"]
        # kustomize's includeSelectors would add taskboard's labels to this peer: no DNS at all.
        dns = find(objects, "NetworkPolicy", "taskboard-egress-core")["spec"]["egress"][0]["to"]
        assert dns[0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}


def test_labels(built: dict[str, list[Obj]]) -> None:
    for objects in built.values():
        for obj in objects:
            labels = obj["metadata"].get("labels") or {}
            assert SELECTOR_LABELS.items() <= labels.items(), obj["metadata"]["name"]
        for obj in workloads(objects):
            template = obj["spec"]["template"]["metadata"]["labels"]
            assert SELECTOR_LABELS.items() <= template.items()
            assert template["app.kubernetes.io/component"] in (*COMPONENTS, "migrate")


# ---- one topology -----------------------------------------------------------------------------


def topology(objects: list[Obj]) -> set[tuple[str, str]]:
    """What runs and how it is reached; the Job's release suffix aside."""
    kinds = ("Deployment", "Job", "Service", "Ingress", "ServiceAccount", "ConfigMap")
    return {
        # The Job's release suffix and the generated ConfigMap's hash aside.
        (o["kind"], re.sub(r"-(\d+(-\d+)*|[a-z0-9]{10})$", "", o["metadata"]["name"]))
        for o in objects
        if o["kind"] in kinds
    }


def test_dev_and_prod_have_the_same_topology(built: dict[str, list[Obj]]) -> None:
    assert topology(built["dev"]) == topology(built["prod"])
    assert ("Job", "taskboard-migrate") in topology(built["prod"])
    assert {name for kind, name in topology(built["prod"]) if kind == "Deployment"} == {
        f"taskboard-{name}" for name in COMPONENTS
    }
