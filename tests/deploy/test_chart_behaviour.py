"""What the Helm chart's objects do, read from what it renders: autoscalers own their replicas,
the worker is never scaled by both an HPA and KEDA, disruption budgets exist where they help,
migrations run before anything needs them and never deadlock `helm install --wait`, every pod
waits for its schema and runs under the restricted Pod Security Standard, graces outlast drains,
changed settings roll the pods, traffic reaches the right Service, NetworkPolicies let through
only what taskboard uses, and the monitoring objects carry the alerts and dashboards."""

from __future__ import annotations

import base64
import copy
import ipaddress
import re
import shutil
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from taskboard.realtime import metrics as realtime_metrics
from taskboard.transfer import queue as import_queue
from taskboard.worker import jobs
from tests.deploy.test_chart import MINIMAL, rendered, with_values
from tests.deploy.tooling import CHART, all_of, containers, find, load_yaml, render_chart

COMPONENTS = ("api", "realtime", "worker")
PRODUCTION = load_yaml(CHART / "ci" / "production-values.yaml")
RULES = CHART / "files" / "alerts" / "taskboard.rules.yaml"
DASHBOARDS = CHART / "files" / "dashboards"
# Dramatiq's queues, as the application declares them.
QUEUES = {jobs.EMAIL_QUEUE, jobs.WEBHOOK_QUEUE, jobs.THUMBNAIL_QUEUE, import_queue.QUEUE}


def name(component: str) -> str:
    return f"tb-taskboard-{component}"


def deployments(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        obj["metadata"]["labels"]["app.kubernetes.io/component"]: obj
        for obj in all_of(objects, "Deployment")
    }


def pod_of(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"]
    pod: dict[str, Any] = spec["template"]["spec"] if "template" in spec else spec
    return pod


def render_error(values: dict[str, Any]) -> str:
    with pytest.raises(helm_python.HelmError) as caught:
        render_chart(values)
    return str(caught.value)


# --- Validation ------------------------------------------------------------------------------


def test_missing_settings_are_all_named_at_once() -> None:
    message = render_error({})
    for value in ("externalDatabase.url", "externalRedis.url", "secretKey"):
        assert value in message


def test_the_secret_values_are_not_needed_with_an_existing_secret() -> None:
    objects = render_chart({"existingSecret": "mine"})
    assert all_of(objects, "Secret") == []


def test_an_hpa_and_a_scaled_object_for_the_worker_are_refused() -> None:
    values = with_values(
        MINIMAL, **{"worker.autoscaling.enabled": True, "worker.keda.enabled": True}
    )
    message = render_error(values)
    assert "worker.autoscaling.enabled" in message
    assert "worker.keda.enabled" in message
    # Either alone renders.
    for switch in ("worker.autoscaling.enabled", "worker.keda.enabled"):
        assert render_chart(with_values(MINIMAL, **{switch: True}))


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"config.extra": {"TASKBOARD_SECRET_KEY": "x" * 40}}, "is a secret"),
        ({"config.extra": {"TASKBOARD_PUBLIC_URL": "https://x"}}, "set by the chart"),
        ({"secretKey": "short"}, "secretKey"),
        ({"storage.s3.accessKeyId": "AKIA"}, "storage.s3.secretAccessKey"),
        (
            {
                "api.autoscaling.enabled": True,
                "api.autoscaling.minReplicas": 5,
                "api.autoscaling.maxReplicas": 2,
            },
            "minReplicas exceeds",
        ),
        ({"realtime.autoscaling.connectionsPerPod.enabled": True}, "realtime.autoscaling.enabled"),
    ],
)
def test_inconsistent_values_are_refused(change: dict[str, Any], complaint: str) -> None:
    assert complaint in render_error(with_values(MINIMAL, **change))


def test_keda_needs_the_redis_address_when_the_url_is_in_an_existing_secret() -> None:
    values: dict[str, Any] = {"existingSecret": "mine", "worker": {"keda": {"enabled": True}}}
    assert "worker.keda.redis.address" in render_error(values)
    values = with_values(values, **{"worker.keda.redis.address": "redis.internal:6379"})
    scaled = find(render_chart(values), "ScaledObject")
    assert {t["metadata"]["address"] for t in scaled["spec"]["triggers"]} == {"redis.internal:6379"}


# --- Replicas, autoscaling, disruption budgets ---------------------------------------------


def test_replicas_are_rendered_only_without_an_autoscaler() -> None:
    plain = deployments(render_chart(with_values(MINIMAL, **{"api.replicaCount": 4})))
    assert plain["api"]["spec"]["replicas"] == 4
    assert all("replicas" in d["spec"] for d in plain.values())

    scaled = render_chart(
        with_values(
            MINIMAL,
            **{f"{c}.autoscaling.enabled": True for c in COMPONENTS},
        )
    )
    assert all("replicas" not in d["spec"] for d in deployments(scaled).values())
    hpas = {
        hpa["spec"]["scaleTargetRef"]["name"]: hpa
        for hpa in all_of(scaled, "HorizontalPodAutoscaler")
    }
    assert set(hpas) == {name(c) for c in COMPONENTS}

    keda = deployments(render_chart(with_values(MINIMAL, **{"worker.keda.enabled": True})))
    assert "replicas" not in keda["worker"]["spec"]
    assert keda["api"]["spec"]["replicas"] == 2


def test_the_hpas_scale_on_cpu_and_realtime_on_open_connections() -> None:
    objects = rendered("production-values.yaml")
    hpas = {hpa["metadata"]["name"]: hpa for hpa in all_of(objects, "HorizontalPodAutoscaler")}
    for component in COMPONENTS:
        metrics = hpas[name(component)]["spec"]["metrics"]
        assert {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 70},
            },
        } in metrics
    pods = [m for m in hpas[name("realtime")]["spec"]["metrics"] if m["type"] == "Pods"]
    assert len(pods) == 1
    # The metric the realtime pods export, read from the application's registry object.
    assert pods[0]["pods"]["metric"]["name"] == realtime_metrics.CONNECTIONS._name
    assert pods[0]["pods"]["target"] == {"type": "AverageValue", "averageValue": "4000"}
    # Scaling in closes sockets: by default it goes one pod at a time, after ten quiet minutes.
    down = hpas[name("realtime")]["spec"]["behavior"]["scaleDown"]
    assert down["stabilizationWindowSeconds"] >= 300
    assert down["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 120}]


def test_keda_scales_the_worker_on_every_dramatiq_queue() -> None:
    objects = rendered("keda-values.yaml")
    scaled = find(objects, "ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == name("worker")
    triggers = scaled["spec"]["triggers"]
    assert {t["type"] for t in triggers} == {"redis"}
    assert {t["metadata"]["listName"] for t in triggers} == {f"dramatiq:{q}" for q in QUEUES}
    for trigger in triggers:
        # From externalRedis.url: rediss://:ci-password@redis.taskboard.svc:6380/2
        assert trigger["metadata"]["address"] == "redis.taskboard.svc:6380"
        assert trigger["metadata"]["databaseIndex"] == "2"
        assert trigger["metadata"]["enableTLS"] == "true"
        assert trigger["metadata"]["listLength"] == "100"
        assert trigger["authenticationRef"]["name"] == name("worker")
    auth = find(objects, "TriggerAuthentication", name("worker"))
    [ref] = auth["spec"]["secretTargetRef"]
    secret = find(objects, "Secret", ref["name"])
    assert ref["parameter"] == "password"
    assert ref["key"] in secret["data"]
    # Its password is the URL's, apart from the URL.
    assert base64.b64decode(secret["data"][ref["key"]]).decode() == "ci-password"
    assert all_of(objects, "HorizontalPodAutoscaler") == []


@pytest.mark.parametrize(
    ("changes", "budgets"),
    [
        ({}, {"api", "realtime"}),  # 2, 2 and 1 replicas by default
        ({"worker.replicaCount": 2, "api.replicaCount": 1}, {"realtime", "worker"}),
        ({"api.pdb.create": False}, {"realtime"}),
        # An autoscaler's floor decides, not replicaCount.
        ({"api.autoscaling.enabled": True, "api.autoscaling.minReplicas": 1}, {"realtime"}),
        (
            {"worker.keda.enabled": True, "worker.keda.minReplicaCount": 2},
            {"api", "realtime", "worker"},
        ),
        ({"worker.keda.enabled": True, "worker.replicaCount": 3}, {"api", "realtime"}),
    ],
)
def test_disruption_budgets_only_for_more_than_one_replica(
    changes: dict[str, Any], budgets: set[str]
) -> None:
    objects = render_chart(with_values(MINIMAL, **changes))
    found = {
        pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
        for pdb in all_of(objects, "PodDisruptionBudget")
    }
    assert found == budgets
    for pdb in all_of(objects, "PodDisruptionBudget"):
        component = pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
        selector = deployments(objects)[component]["spec"]["selector"]["matchLabels"]
        assert pdb["spec"]["selector"]["matchLabels"] == selector


def test_selectors_use_only_labels_that_never_change() -> None:
    before = deployments(render_chart(MINIMAL))
    after = deployments(
        render_chart(with_values(MINIMAL, **{"image.tag": "9.9.9", "commonLabels": {"team": "a"}}))
    )
    for component in COMPONENTS:
        selector = before[component]["spec"]["selector"]
        assert selector == after[component]["spec"]["selector"]
        assert set(selector["matchLabels"]) == {
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/component",
        }
        labels = after[component]["spec"]["template"]["metadata"]["labels"]
        assert selector["matchLabels"].items() <= labels.items()
        assert labels["team"] == "a"


# --- Migrations ----------------------------------------------------------------------------


def hook_problems(objects: list[dict[str, Any]]) -> list[str]:
    """What a pre-install hook Job reads that will not exist when it runs: anything the chart
    makes as a plain resource (created after the pre-install hooks), or a hook of the same or a
    later weight."""
    problems = []
    by_key = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    for job in all_of(objects, "Job"):
        annotations = job["metadata"].get("annotations", {})
        if "helm.sh/hook" not in annotations:
            continue
        weight = int(annotations.get("helm.sh/hook-weight", "0"))
        pod = pod_of(job)
        needed: list[tuple[str, str]] = []
        if pod.get("serviceAccountName"):
            needed.append(("ServiceAccount", pod["serviceAccountName"]))
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                needed.append(("Secret", volume["secret"]["secretName"]))
            if "configMap" in volume:
                needed.append(("ConfigMap", volume["configMap"]["name"]))
            for source in volume.get("projected", {}).get("sources", []):
                if "secret" in source:
                    needed.append(("Secret", source["secret"]["name"]))
                if "configMap" in source:
                    needed.append(("ConfigMap", source["configMap"]["name"]))
        for container in containers(job):
            for source in container.get("envFrom", []):
                ref = source.get("secretRef") or source.get("configMapRef")
                needed.append(("Secret" if "secretRef" in source else "ConfigMap", ref["name"]))
            for variable in container.get("env", []):
                for ref_kind, kind in (
                    ("secretKeyRef", "Secret"),
                    ("configMapKeyRef", "ConfigMap"),
                ):
                    if ref_kind in variable.get("valueFrom", {}):
                        needed.append((kind, variable["valueFrom"][ref_kind]["name"]))
        for key in needed:
            made = by_key.get(key)
            if made is None:
                continue  # not the chart's: it exists before the release (existingSecret)
            hooks = made["metadata"].get("annotations", {})
            if "pre-install" not in hooks.get("helm.sh/hook", ""):
                problems.append(f"{job['metadata']['name']} reads {key}, made after the hooks")
            elif int(hooks.get("helm.sh/hook-weight", "0")) >= weight:
                problems.append(f"{job['metadata']['name']} reads {key}, a hook not before it")
    return problems


def migration_job(objects: list[dict[str, Any]]) -> dict[str, Any]:
    [job] = [j for j in all_of(objects, "Job") if "migrate" in j["metadata"]["name"]]
    return job


@pytest.mark.parametrize("scenario", ["default-values.yaml", "existing-secret-values.yaml"])
def test_the_migration_is_a_pre_install_pre_upgrade_hook_that_needs_nothing_made_after_it(
    scenario: str,
) -> None:
    objects = rendered(scenario)
    job = migration_job(objects)
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    [container] = pod_of(job)["containers"]
    assert container["command"] + container["args"] == ["taskboard", "migrate"]
    assert hook_problems(objects) == []
    # It does read the database URL, from a Secret that exists by then.
    volume = next(v for v in pod_of(job)["volumes"] if v["name"] == "secrets")
    [source] = volume["projected"]["sources"]
    assert [item["path"] for item in source["secret"]["items"]] == ["TASKBOARD_DATABASE_URL"]
    if scenario == "existing-secret-values.yaml":
        assert source["secret"]["name"] == "taskboard-credentials"
        assert source["secret"]["items"][0]["key"] == "database-url"
    else:
        copy_ = find(objects, "Secret", source["secret"]["name"])
        assert copy_["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert "hook-succeeded" in copy_["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
        # Only what the migration reads, not the other secrets.
        assert set(copy_["data"]) == {"TASKBOARD_DATABASE_URL"}


def test_the_hook_check_refuses_a_job_reading_the_charts_own_secret() -> None:
    objects = copy.deepcopy(rendered("default-values.yaml"))
    job = migration_job(objects)
    volume = next(v for v in pod_of(job)["volumes"] if v["name"] == "secrets")
    volume["projected"]["sources"][0]["secret"]["name"] = "tb-taskboard"
    assert hook_problems(objects)
    objects = copy.deepcopy(rendered("default-values.yaml"))
    pod_of(migration_job(objects))["serviceAccountName"] = "tb-taskboard"
    assert hook_problems(objects)


def test_nothing_runs_after_install() -> None:
    # A post-install hook would wait for pods that wait for it (helm install --wait).
    for scenario in ("default-values.yaml", "production-values.yaml", "keda-values.yaml"):
        for obj in render_chart(load_yaml(CHART / "ci" / scenario), include_tests=True):
            hook = obj["metadata"].get("annotations", {}).get("helm.sh/hook", "")
            assert "post-" not in hook, obj["metadata"]["name"]


def job_mode(**changes: Any) -> dict[str, Any]:
    return with_values(MINIMAL, **{"migrations.mode": "job", **changes})


def test_job_mode_renders_a_plain_job_named_after_the_version() -> None:
    objects = render_chart(job_mode())
    job = migration_job(objects)
    assert not any(key.startswith("helm.sh/") for key in job["metadata"].get("annotations", {}))
    assert re.fullmatch(r"tb-taskboard-migrate-0-1-0-[0-9a-f]{8}", job["metadata"]["name"])
    # Argo CD applies everything at once: the Job reads the chart's own Secret, and only the
    # hook mode's copy is gone.
    assert [s["metadata"]["name"] for s in all_of(objects, "Secret")] == ["tb-taskboard"]
    assert pod_of(job)["serviceAccountName"] == "tb-taskboard"
    # The same values, the same Job: an unchanged sync does not migrate again.
    assert migration_job(render_chart(job_mode()))["metadata"]["name"] == job["metadata"]["name"]
    other = migration_job(render_chart(job_mode(**{"image.tag": "0.2.0"})))
    assert other["metadata"]["name"].startswith("tb-taskboard-migrate-0-2-0-")
    digest = "sha256:" + "a" * 64
    pinned = migration_job(render_chart(job_mode(**{"image.digest": digest})))
    assert pinned["metadata"]["name"] != job["metadata"]["name"]


def test_job_mode_name_follows_the_charts_app_version(tmp_path: Path) -> None:
    chart = tmp_path / "taskboard"
    shutil.copytree(CHART, chart)
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    names = []
    for version in ("1.4.0", "1.5.0-rc.1"):
        meta["appVersion"] = version
        (chart / "Chart.yaml").write_text(yaml.safe_dump(meta))
        with helm_python.Chart.load(chart) as loaded:
            manifests = loaded.render(values=job_mode(), name="tb", namespace="taskboard")
        [job] = [
            doc
            for path, text in manifests.items()
            if path.endswith("migration-job.yaml")
            for doc in yaml.safe_load_all(text)
            if doc and doc["kind"] == "Job"
        ]
        names.append(job["metadata"]["name"])
    assert names[0].startswith("tb-taskboard-migrate-1-4-0-")
    assert names[1].startswith("tb-taskboard-migrate-1-5-0-rc-1-")


def test_names_fit_kubernetes_limits_with_a_long_release_name() -> None:
    release = "a-release-name-that-is-as-long-as-helm-allows-it-12"  # 51 characters
    values = job_mode(**{f"{c}.autoscaling.enabled": True for c in COMPONENTS})
    values["metrics"] = {"serviceMonitor": {"enabled": True}}
    objects = render_chart(values, name=release, include_tests=True)
    names = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert all(len(n) <= 63 for _, n in names), [n for _, n in names if len(n) > 63]
    assert len(set(names)) == len(names)
    assert {n for k, n in names if k == "Deployment"} == {
        n for k, n in names if k == "HorizontalPodAutoscaler"
    }


@pytest.mark.parametrize("scenario", ["default-values.yaml", "production-values.yaml"])
def test_every_pod_waits_for_its_schema(scenario: str) -> None:
    objects = rendered(scenario)
    image = deployments(objects)["api"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert set(deployments(objects)) == set(COMPONENTS)
    for deployment in deployments(objects).values():
        [init] = pod_of(deployment)["initContainers"]
        assert init["command"] + init["args"][:2] == ["taskboard", "migrate", "--wait"]
        assert init["image"] == image
        # It reads the database URL as the main container does.
        assert {"name": "secrets", "mountPath": "/run/secrets/taskboard", "readOnly": True} in (
            init["volumeMounts"]
        )


# --- Pod security --------------------------------------------------------------------------

RESTRICTED = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "privileged": False,
}


def pss_problems(obj: dict[str, Any]) -> list[str]:
    """Departures from the restricted Pod Security Standard, and from what the chart promises
    on top (numeric user 10001, read-only root, no token)."""
    pod = pod_of(obj) if obj["kind"] != "Job" else obj["spec"]["template"]["spec"]
    where = f"{obj['kind']}/{obj['metadata']['name']}"
    problems = []
    pod_context = pod.get("securityContext", {})
    if pod.get("automountServiceAccountToken") is not False:
        problems.append(f"{where}: mounts a service-account token")
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            problems.append(f"{where}: {flag}")
    mounts_tmp = set()
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for container in containers(obj):
        context = {**pod_context, **container.get("securityContext", {})}
        label = f"{where}/{container['name']}"
        for key, wanted in RESTRICTED.items():
            if context.get(key) is not wanted:
                problems.append(f"{label}: {key} is {context.get(key)!r}")
        if context.get("runAsUser") != 10001:
            problems.append(f"{label}: runAsUser is {context.get('runAsUser')!r}")
        if context.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{label}: capabilities are not all dropped")
        if context.get("capabilities", {}).get("add"):
            problems.append(f"{label}: adds capabilities")
        if context.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{label}: seccomp is not RuntimeDefault")
        for mount in container.get("volumeMounts", []):
            if "emptyDir" in volumes.get(mount["name"], {}):
                mounts_tmp.add((container["name"], mount["mountPath"]))
        multiproc = {e["name"]: e.get("value") for e in container.get("env", [])}.get(
            "PROMETHEUS_MULTIPROC_DIR"
        )
        if multiproc and (container["name"], multiproc) not in mounts_tmp:
            problems.append(f"{label}: PROMETHEUS_MULTIPROC_DIR is not a writable emptyDir")
    return problems


def workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in ("Deployment", "Job", "Pod")]


@pytest.mark.parametrize(
    "scenario", ["default-values.yaml", "production-values.yaml", "keda-values.yaml"]
)
def test_every_container_runs_restricted(scenario: str) -> None:
    objects = rendered(scenario)
    assert {o["kind"] for o in workloads(objects)} == {"Deployment", "Job", "Pod"}
    assert [p for obj in workloads(objects) for p in pss_problems(obj)] == []
    for obj in all_of(objects, "Deployment") + all_of(objects, "Job"):
        pod = pod_of(obj) if obj["kind"] == "Deployment" else obj["spec"]["template"]["spec"]
        # /tmp is writable everywhere (the root is not); service links stay out of the env.
        assert any(v["name"] == "tmp" and "emptyDir" in v for v in pod["volumes"])
        assert pod["enableServiceLinks"] is False
    api = pod_of(deployments(objects)["api"])["containers"][0]
    env = {e["name"]: e.get("value") for e in api["env"]}
    assert env["PROMETHEUS_MULTIPROC_DIR"] == "/run/prometheus"


@pytest.mark.parametrize(
    "change",
    [
        {"containerSecurityContext.allowPrivilegeEscalation": True},
        {"containerSecurityContext.runAsUser": 0},
        {"containerSecurityContext.capabilities": {"drop": ["NET_RAW"]}},
        {"containerSecurityContext.readOnlyRootFilesystem": False},
        {
            "podSecurityContext.seccompProfile": {"type": "Unconfined"},
            "containerSecurityContext.seccompProfile": {"type": "Unconfined"},
        },
    ],
)
def test_the_security_check_sees_a_weakened_context(change: dict[str, Any]) -> None:
    objects = render_chart(with_values(MINIMAL, **change), include_tests=True)
    assert all(pss_problems(obj) for obj in workloads(objects))


def test_no_secret_reaches_an_environment_variable() -> None:
    for scenario in ("default-values.yaml", "existing-secret-values.yaml"):
        for obj in workloads(rendered(scenario)):
            for container in containers(obj):
                assert not any("secretRef" in s for s in container.get("envFrom", []))
                assert not any(
                    "secretKeyRef" in e.get("valueFrom", {}) for e in container.get("env", [])
                )
        config = find(rendered(scenario), "ConfigMap", "tb-taskboard")["data"]
        secrets = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "SMTP_URL", "SECRET_ACCESS_KEY")
        assert not [key for key in config if key.endswith(secrets)]


def test_existing_secret_keys_are_mounted_as_the_files_taskboard_reads() -> None:
    objects = rendered("existing-secret-values.yaml")
    pod = pod_of(deployments(objects)["api"])
    volume = next(v for v in pod["volumes"] if v["name"] == "secrets")
    required, optional = volume["projected"]["sources"]
    assert {i["key"]: i["path"] for i in required["secret"]["items"]} == {
        "database-url": "TASKBOARD_DATABASE_URL",
        "redis-url": "TASKBOARD_REDIS_URL",
        "signing-key": "TASKBOARD_SECRET_KEY",
    }
    assert "optional" not in required["secret"]
    assert optional["secret"]["optional"] is True
    assert {i["key"]: i["path"] for i in optional["secret"]["items"]} == {
        "signing-key-previous": "TASKBOARD_SECRET_KEY_PREVIOUS",
        "smtp-url": "TASKBOARD_SMTP_URL",
        "s3-secret-access-key": "TASKBOARD_STORAGE_S3_SECRET_ACCESS_KEY",
    }
    assert all(s["secret"]["name"] == "taskboard-credentials" for s in (required, optional))


# --- Rollouts ------------------------------------------------------------------------------


def pause_of(container: dict[str, Any]) -> float:
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[:2] == ["python", "-c"]
    found = re.fullmatch(r"import time; time\.sleep\((\d+(?:\.\d+)?)\)", command[2])
    assert found, command
    return float(found.group(1))


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


@pytest.mark.parametrize(
    "changes",
    [{}, {"realtime.preStopSeconds": 30, "realtime.drainSeconds": 120, "api.drainSeconds": 60}],
)
def test_graces_outlast_the_pause_and_the_drain(changes: dict[str, Any]) -> None:
    found = deployments(render_chart(with_values(MINIMAL, **changes)))
    for component in ("api", "realtime"):
        pod = pod_of(found[component])
        container = pod["containers"][0]
        drain = float(env_of(container)["TASKBOARD_GRACEFUL_TIMEOUT_SECONDS"])
        assert pod["terminationGracePeriodSeconds"] > pause_of(container) + drain
    realtime = pod_of(found["realtime"])["containers"][0]
    assert pause_of(realtime) == changes.get("realtime.preStopSeconds", 10)


@pytest.mark.parametrize(("timeout", "grace"), [(25, 40), (60, 75), (12.5, 28)])
def test_the_worker_grace_follows_its_shutdown_timeout(timeout: float, grace: int) -> None:
    worker = pod_of(
        deployments(
            render_chart(with_values(MINIMAL, **{"worker.shutdownTimeoutSeconds": timeout}))
        )["worker"]
    )
    assert (
        float(env_of(worker["containers"][0])["TASKBOARD_WORKER_SHUTDOWN_TIMEOUT_SECONDS"])
        == timeout
    )
    assert worker["terminationGracePeriodSeconds"] == grace
    # Its HTTP drain (probes only) and then its actors fit in the grace together.
    http_drain = float(env_of(worker["containers"][0])["TASKBOARD_GRACEFUL_TIMEOUT_SECONDS"])
    assert worker["terminationGracePeriodSeconds"] > http_drain + timeout
    assert "lifecycle" not in worker["containers"][0]


def test_rollouts_keep_capacity() -> None:
    for deployment in deployments(rendered("production-values.yaml")).values():
        strategy = deployment["spec"]["strategy"]
        assert strategy["type"] == "RollingUpdate"
        assert strategy["rollingUpdate"]["maxUnavailable"] == 0
        assert strategy["rollingUpdate"]["maxSurge"] not in (0, "0%")


def test_probes_use_the_health_endpoints() -> None:
    for deployment in deployments(rendered("default-values.yaml")).values():
        container = pod_of(deployment)["containers"][0]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"http": 8000, "metrics": 9100}


def test_pods_spread_over_nodes_and_zones() -> None:
    for component, deployment in deployments(rendered("default-values.yaml")).items():
        spread = pod_of(deployment)["topologySpreadConstraints"]
        assert {c["topologyKey"] for c in spread} == {
            "kubernetes.io/hostname",
            "topology.kubernetes.io/zone",
        }
        for constraint in spread:
            assert (
                constraint["labelSelector"]["matchLabels"]
                == (deployment["spec"]["selector"]["matchLabels"])
            ), component


def checksums(values: dict[str, Any]) -> dict[str, str]:
    template = deployments(render_chart(values))["api"]["spec"]["template"]
    annotations: dict[str, str] = template["metadata"]["annotations"]
    return {k: v for k, v in annotations.items() if k.startswith("checksum/")}


def test_a_changed_setting_or_secret_changes_the_pods() -> None:
    base = checksums(MINIMAL)
    assert set(base) == {"checksum/config", "checksum/secret"}
    setting = checksums(with_values(MINIMAL, **{"config.logLevel": "DEBUG"}))
    assert setting["checksum/config"] != base["checksum/config"]
    assert setting["checksum/secret"] == base["checksum/secret"]
    secret = checksums(with_values(MINIMAL, secretKey="n" * 48))
    assert secret["checksum/secret"] != base["checksum/secret"]
    assert secret["checksum/config"] == base["checksum/config"]
    # Values outside the ConfigMap and the Secret change neither.
    assert checksums(with_values(MINIMAL, **{"api.replicaCount": 5})) == base


# --- Configuration -------------------------------------------------------------------------


def test_the_configmap_carries_the_settings_from_values() -> None:
    objects = rendered("production-values.yaml")
    data = find(objects, "ConfigMap", "tb-taskboard")["data"]
    assert data["TASKBOARD_PUBLIC_URL"] == "https://taskboard.example.com"
    assert data["TASKBOARD_FORWARDED_ALLOW_IPS"] == "10.0.0.0/8"
    assert data["TASKBOARD_OTLP_ENDPOINT"] == "http://otel-collector.observability.svc:4318"
    assert data["TASKBOARD_STORAGE_URL"] == "s3://taskboard-files/prod"
    assert data["TASKBOARD_STORAGE_S3_REGION"] == "eu-west-1"
    assert data["TASKBOARD_DB_POOL_SIZE"] == "20"
    assert data["TASKBOARD_METRICS_PORT"] == "9100"
    for deployment in deployments(objects).values():
        container = pod_of(deployment)["containers"][0]
        assert {"configMapRef": {"name": "tb-taskboard"}} in container["envFrom"]
    # Without a URL of its own, the Ingress's host is the public URL.
    derived = render_chart(
        with_values(
            MINIMAL,
            **{
                "ingress.enabled": True,
                "ingress.hostname": "tb.example.org",
                "ingress.tls.enabled": True,
            },
        )
    )
    assert find(derived, "ConfigMap", "tb-taskboard")["data"]["TASKBOARD_PUBLIC_URL"] == (
        "https://tb.example.org"
    )


# --- Traffic -------------------------------------------------------------------------------


def services(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["metadata"]["name"]: s for s in all_of(objects, "Service")}


def test_services_and_their_ports() -> None:
    found = services(rendered("default-values.yaml"))
    assert found[name("api")]["spec"]["ports"] == [
        {
            "name": "http",
            "port": 8000,
            "targetPort": "http",
            "protocol": "TCP",
            "appProtocol": "http",
        }
    ]
    [realtime] = found[name("realtime")]["spec"]["ports"]
    assert (realtime["name"], realtime["port"], realtime["appProtocol"]) == (
        "http",
        8000,
        "kubernetes.io/ws",
    )
    for component in COMPONENTS:
        [port] = found[f"{name(component)}-metrics"]["spec"]["ports"]
        assert (port["name"], port["port"], port["targetPort"]) == ("metrics", 9100, "metrics")
    # The traffic Services never carry /metrics.
    for component in ("api", "realtime"):
        assert all(p["port"] != 9100 for p in found[name(component)]["spec"]["ports"])


ROUTES = {"/ws": "realtime", "/api": "api", "/": "api"}


def test_the_ingress_routes_ws_to_realtime_and_the_rest_to_the_api() -> None:
    objects = rendered("production-values.yaml")
    ingress = find(objects, "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    [rule] = ingress["spec"]["rules"]
    assert rule["host"] == "taskboard.example.com"
    routes = {p["path"]: p for p in rule["http"]["paths"]}
    assert set(routes) == set(ROUTES)
    for path, component in ROUTES.items():
        backend = routes[path]["backend"]["service"]
        assert routes[path]["pathType"] == "Prefix"
        assert backend["name"] == name(component)
        service = services(objects)[backend["name"]]
        assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    assert ingress["spec"]["tls"] == [
        {"hosts": ["taskboard.example.com"], "secretName": "taskboard.example.com-tls"}
    ]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    assert annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"] == "3600"
    assert annotations["cert-manager.io/cluster-issuer"] == "letsencrypt"


@pytest.mark.parametrize(
    ("controller", "annotation", "value"),
    [
        ("haproxy", "haproxy.org/timeout-tunnel", "900s"),
        ("haproxy-ingress", "haproxy-ingress.github.io/timeout-tunnel", "900s"),
        ("ingress-nginx", "nginx.ingress.kubernetes.io/proxy-read-timeout", "900"),
    ],
)
def test_websocket_timeouts_for_each_controller(
    controller: str, annotation: str, value: str
) -> None:
    values = with_values(
        MINIMAL,
        **{
            "ingress.enabled": True,
            "ingress.controller": controller,
            "ingress.websocketTimeoutSeconds": 900,
        },
    )
    annotations = find(render_chart(values), "Ingress")["metadata"]["annotations"]
    assert annotations[annotation] == value
    timeouts = {k for k in annotations if "timeout" in k}
    assert all(k.split("/")[0] == annotation.split("/")[0] for k in timeouts)


def test_the_http_route_routes_like_the_ingress() -> None:
    objects = rendered("gateway-api-values.yaml")
    assert all_of(objects, "Ingress") == []
    route = find(objects, "HTTPRoute")
    assert route["spec"]["parentRefs"] == [
        {"name": "public", "namespace": "gateway-system", "sectionName": "https"}
    ]
    assert route["spec"]["hostnames"] == ["taskboard.example.com"]
    rules = {r["matches"][0]["path"]["value"]: r for r in route["spec"]["rules"]}
    assert set(rules) == set(ROUTES)
    for path, component in ROUTES.items():
        rule = rules[path]
        assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": path}}]
        [backend] = rule["backendRefs"]
        service = services(objects)[backend["name"]]
        assert backend["name"] == name(component)
        assert backend["port"] in {p["port"] for p in service["spec"]["ports"]}
    # A request timeout would cut every socket; the api's is the values'.
    assert rules["/ws"]["timeouts"] == {"request": "0s"}
    assert rules["/api"]["timeouts"] == {"request": "60s"}


# --- NetworkPolicies -----------------------------------------------------------------------


def policies(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]: p
        for p in all_of(objects, "NetworkPolicy")
    }


def allowed_ports(rules: list[dict[str, Any]]) -> set[tuple[Any, str]]:
    return {(p["port"], p["protocol"]) for rule in rules for p in rule.get("ports", [])}


def test_every_pod_has_a_network_policy() -> None:
    for scenario in ("default-values.yaml", "production-values.yaml"):
        objects = rendered(scenario)
        found = policies(objects)
        for obj in workloads(objects):
            labels = (
                obj["metadata"]["labels"]
                if obj["kind"] == "Pod"
                else obj["spec"]["template"]["metadata"]["labels"]
            )
            assert any(
                p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
                for p in found.values()
            ), (scenario, obj["metadata"]["name"])


def test_closed_policies_let_through_only_what_taskboard_uses() -> None:
    objects = rendered("production-values.yaml")
    found = policies(objects)
    assert set(found) == {"api", "realtime", "worker", "migrate", "test"}
    for component in ("api", "realtime", "worker", "migrate"):
        egress = found[component]["spec"]["egress"]
        assert {} not in egress
        ports = allowed_ports(egress)
        assert {(53, "UDP"), (53, "TCP"), (5432, "TCP")} <= ports, component
        if component != "migrate":
            assert (6379, "TCP") in ports, component
            assert (4318, "TCP") in ports, component  # config.otlpEndpoint is set
    # The managed databases' subnets from the values narrow their rules.
    postgres = next(
        r for r in found["api"]["spec"]["egress"] if (5432, "TCP") in allowed_ports([r])
    )
    assert postgres["to"] == [{"ipBlock": {"cidr": "10.20.0.0/24"}}]
    # S3 for the pods that store files; e-mail and webhooks for the worker alone.
    assert (443, "TCP") in allowed_ports(found["api"]["spec"]["egress"])
    assert (443, "TCP") not in allowed_ports(found["realtime"]["spec"]["egress"])
    assert (587, "TCP") in allowed_ports(found["worker"]["spec"]["egress"])
    assert (587, "TCP") not in allowed_ports(found["api"]["spec"]["egress"])
    assert allowed_ports(found["migrate"]["spec"]["egress"]) == {
        (53, "UDP"),
        (53, "TCP"),
        (5432, "TCP"),
    }
    assert found["migrate"]["spec"]["ingress"] == []


def test_webhooks_reach_the_internet_but_not_private_addresses() -> None:
    found = policies(rendered("production-values.yaml"))
    [webhooks] = [r for r in found["worker"]["spec"]["egress"] if (80, "TCP") in allowed_ports([r])]
    assert allowed_ports([webhooks]) == {(80, "TCP"), (443, "TCP")}
    blocks = [t["ipBlock"] for t in webhooks["to"]]

    def reachable(address: str) -> bool:
        ip = ipaddress.ip_address(address)
        return any(
            ip in ipaddress.ip_network(b["cidr"])
            and not any(ip in ipaddress.ip_network(e) for e in b.get("except", []))
            for b in blocks
            if ipaddress.ip_network(b["cidr"]).version == ip.version
        )

    assert reachable("93.184.216.34")
    assert reachable("2606:2800:220:1::1")
    for private in (
        "10.1.2.3",
        "172.20.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "127.0.0.1",
        "fd00::1",
        "fe80::1",
    ):
        assert not reachable(private), private


def test_only_the_ingress_and_prometheus_reach_the_pods() -> None:
    objects = rendered("gateway-api-values.yaml")
    found = policies(objects)
    gateway = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateway-system"}}
    }
    monitoring = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    }
    test_pod = {
        "podSelector": {
            "matchLabels": {
                "app.kubernetes.io/name": "taskboard",
                "app.kubernetes.io/instance": "tb",
                "app.kubernetes.io/component": "test",
            }
        }
    }
    for component in ("api", "realtime"):
        rules = found[component]["spec"]["ingress"]
        by_port = {r["ports"][0]["port"]: r for r in rules}
        assert set(by_port) == {"http", "metrics"}
        assert by_port["http"]["from"] == [gateway, test_pod]
        assert by_port["metrics"]["from"] == [monitoring]
    [worker] = found["worker"]["spec"]["ingress"]
    assert worker["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert worker["from"] == [monitoring]
    # The test pod is admitted because its labels are the ones the policy names.
    test = find(
        render_chart(load_yaml(CHART / "ci" / "gateway-api-values.yaml"), include_tests=True), "Pod"
    )
    assert test_pod["podSelector"]["matchLabels"].items() <= test["metadata"]["labels"].items()


def test_open_policies_by_default() -> None:
    found = policies(rendered("default-values.yaml"))
    for component in ("api", "realtime", "worker"):
        assert found[component]["spec"]["egress"] == [{}]
        assert all("from" not in rule for rule in found[component]["spec"]["ingress"])


# --- Monitoring ----------------------------------------------------------------------------


def test_a_service_monitor_per_component_selects_its_metrics_service() -> None:
    objects = rendered("production-values.yaml")
    monitors = all_of(objects, "ServiceMonitor")
    assert len(monitors) == 3
    for monitor in monitors:
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        wanted = monitor["spec"]["selector"]["matchLabels"].items()
        selected = [
            s for s in all_of(objects, "Service") if wanted <= s["metadata"]["labels"].items()
        ]
        assert len(selected) == 1, monitor["metadata"]["name"]
        [endpoint] = monitor["spec"]["endpoints"]
        assert endpoint["port"] in {p["name"] for p in selected[0]["spec"]["ports"]}
        assert endpoint["path"] == "/metrics"
        assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["taskboard"]}


def test_the_prometheus_rule_carries_every_alert_with_its_runbook() -> None:
    source = yaml.safe_load(RULES.read_text())
    rule = find(rendered("production-values.yaml"), "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    groups = rule["spec"]["groups"]
    assert [g["name"] for g in groups] == [g["name"] for g in source["groups"]]
    base = "https://github.com/taskboard/taskboard/blob/main/docs/operations.md"
    for group, original in zip(groups, source["groups"], strict=True):
        assert len(group["rules"]) == len(original["rules"])
        for made, wanted in zip(group["rules"], original["rules"], strict=True):
            if "alert" not in wanted:
                assert made == wanted
                continue
            annotations = dict(made["annotations"])
            assert annotations.pop("runbook_url") == f"{base}#{wanted['alert'].lower()}"
            # Prometheus' own templates reach it as written, never expanded by Helm.
            assert annotations == wanted["annotations"]
            assert {k: v for k, v in made.items() if k != "annotations"} == {
                k: v for k, v in wanted.items() if k != "annotations"
            }
    assert any("{{ $labels." in str(g) for g in groups)


def test_dashboards_are_config_maps_for_the_grafana_sidecar() -> None:
    objects = rendered("production-values.yaml")
    files = sorted(DASHBOARDS.glob("*.json"))
    assert files
    maps = [
        c for c in all_of(objects, "ConfigMap") if c["metadata"]["labels"].get("grafana_dashboard")
    ]
    assert len(maps) == len(files)
    by_key = {key: (c, value) for c in maps for key, value in c["data"].items()}
    for path in files:
        config_map, content = by_key[path.name]
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert config_map["metadata"]["annotations"]["grafana_folder"] == "taskboard"
        assert content == path.read_text().rstrip("\n")
    # The sidecar's label is the values' choice.
    relabelled = render_chart(
        with_values(
            MINIMAL,
            **{
                "metrics.dashboards.enabled": True,
                "metrics.dashboards.labels": {"dashboards": "taskboard"},
            },
        )
    )
    labelled = [
        c for c in all_of(relabelled, "ConfigMap") if "dashboards" in c["metadata"]["labels"]
    ]
    assert len(labelled) == len(files)


def test_monitoring_objects_are_off_by_default() -> None:
    kinds = {o["kind"] for o in rendered("default-values.yaml")}
    assert not kinds & {
        "ServiceMonitor",
        "PrometheusRule",
        "HorizontalPodAutoscaler",
        "Ingress",
        "HTTPRoute",
        "ScaledObject",
    }


# --- NOTES.txt -----------------------------------------------------------------------------


def notes(values: dict[str, Any]) -> str:
    with helm_python.Chart.load(CHART) as chart:
        manifests = chart.render(values=values, name="tb", namespace="taskboard")
    return manifests["taskboard/templates/NOTES.txt"]


def test_the_notes_give_the_urls() -> None:
    text = notes(load_yaml(CHART / "ci" / "production-values.yaml"))
    assert "https://taskboard.example.com/api/v1" in text
    assert "wss://taskboard.example.com/ws" in text
    assert "helm test tb -n taskboard" in text
    routed = notes(load_yaml(CHART / "ci" / "gateway-api-values.yaml"))
    assert "https://taskboard.example.com/" in routed
    forwarded = notes(MINIMAL)
    assert "port-forward svc/tb-taskboard-api 8000:8000" in forwarded
    assert "port-forward svc/tb-taskboard-realtime" in forwarded
    # Behind a proxy without trusted proxies, every client looks like the proxy: say so.
    warned = notes(with_values(MINIMAL, **{"ingress.enabled": True}))
    assert "config.trustedProxies is empty" in warned
    assert "config.trustedProxies is empty" not in text
