"""The Helm chart (charts/taskboard) as tools see it: it renders with every ci/ scenario, Helm's
strict lint is clean, every object validates against Kubernetes' schemas (1.29-1.33) and the
custom resources against their CRDs, values.schema.json refuses bad values and covers every
documented value, the README lists them all, and checkov finds nothing.

Behaviour (what the rendered objects do) is in test_chart_behaviour.py; the `helm test` pod's
script runs in test_chart_helm_test.py."""

from __future__ import annotations

import copy
import json
import re
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import helm_python
import jsonschema
import pytest
import yaml

from tests.deploy.tooling import (
    CHART,
    KUBE_VERSIONS,
    checkov_failures,
    ci_values_files,
    helm_lint,
    load_yaml,
    render_chart,
    schema_errors,
)

CRDS = Path(__file__).parent / "crds"
CI_FILES = ci_values_files()
CI_IDS = [path.name for path in CI_FILES]
# Every scenario the issue asks for has its file.
SCENARIOS = {"default", "production", "keda", "gateway-api", "existing-secret"}
# The smallest values the chart renders with: where PostgreSQL and Redis are, and the key.
MINIMAL: dict[str, Any] = {
    "externalDatabase": {"url": "postgresql://taskboard:pw@db:5432/taskboard"},
    "externalRedis": {"url": "redis://:pw@redis:6379/0"},
    "secretKey": "k" * 48,
}


def with_values(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """`base` with dotted keys set: with_values(MINIMAL, **{"api.replicaCount": 3})."""
    values = copy.deepcopy(base)
    for dotted, value in changes.items():
        node = values
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return values


@cache
def rendered(name: str) -> list[dict[str, Any]]:
    """The objects of one ci/ scenario, the test pod included."""
    return render_chart(load_yaml(CHART / "ci" / name), include_tests=True)


# --- Rendering, lint, Kubernetes schemas ---------------------------------------------------


def test_every_scenario_has_its_values_file() -> None:
    assert {path.name.removesuffix("-values.yaml") for path in CI_FILES} >= SCENARIOS


@pytest.mark.parametrize("path", CI_FILES, ids=CI_IDS)
def test_the_chart_renders_each_scenario(path: Path) -> None:
    objects = rendered(path.name)
    kinds = {obj["kind"] for obj in objects}
    assert {"Deployment", "Service", "ConfigMap", "Job", "Pod"} <= kinds
    names = [(obj["kind"], obj["metadata"]["name"]) for obj in objects]
    assert len(names) == len(set(names)), "two objects of one kind share a name"
    # Every object says its namespace (checkov's CKV_K8S_21 and `kubectl apply -f` alike).
    assert {obj["metadata"]["namespace"] for obj in objects} == {"taskboard"}


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("path", CI_FILES, ids=CI_IDS)
def test_helm_lint_is_clean_in_strict_mode(path: Path, kube_version: str) -> None:
    assert helm_lint(load_yaml(path), kube_version) == []


def test_chart_metadata() -> None:
    chart = load_yaml(CHART / "Chart.yaml")
    assert chart["apiVersion"] == "v2"
    assert chart["type"] == "application"
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(chart["appVersion"]))
    # The oldest Kubernetes the tests validate against is the floor the chart declares.
    assert chart["kubeVersion"] == f">={KUBE_VERSIONS[0]}.0-0"
    assert chart["icon"].startswith("https://")
    assert chart["maintainers"]
    # The image tag is the app version unless image.tag says otherwise.
    deployment = find_kind(rendered("default-values.yaml"), "Deployment")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"ghcr.io/taskboard/taskboard:{chart['appVersion']}"


@pytest.mark.parametrize("path", CI_FILES, ids=CI_IDS)
def test_every_object_validates_strictly_on_every_kubernetes_version(path: Path) -> None:
    errors = [
        f"{version}: {error}"
        for version in KUBE_VERSIONS
        for obj in rendered(path.name)
        for error in schema_errors(obj, version)
    ]
    assert errors == []


def test_the_kubernetes_schema_check_refuses_an_unknown_field() -> None:
    deployment = copy.deepcopy(find_kind(rendered("default-values.yaml"), "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    assert schema_errors(deployment, KUBE_VERSIONS[0])


def find_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(obj for obj in objects if obj["kind"] == kind)


# --- Custom resources against their CRDs ---------------------------------------------------


def _strict(schema: Any) -> Any:
    """A CRD's OpenAPI schema as JSON Schema, with the API server's strict field validation:
    an object with declared properties takes no other field."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key.startswith("x-kubernetes-") or key in ("nullable", "format"):
            continue
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {name: _strict(sub) for name, sub in value.items()}
        elif key == "pattern":
            # Go's RE2 takes a leading ^ before (?i); Python wants the flag first.
            out[key] = value.replace("^(?i)", "(?i)^")
        else:
            out[key] = _strict(value)
    if schema.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if (
        out.get("type") == "object"
        and "properties" in out
        and "additionalProperties" not in out
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@cache
def crd_validators() -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    validators = {}
    for path in sorted(CRDS.glob("*.json")):
        crd = json.loads(path.read_text())
        key = (f"{crd['group']}/{crd['version']}", crd["kind"])
        validators[key] = jsonschema.Draft7Validator(_strict(crd["openAPIV3Schema"]))
    return validators


def custom_resource_errors(obj: dict[str, Any]) -> list[str]:
    validator = crd_validators().get((obj["apiVersion"], obj["kind"]))
    assert validator is not None, f"no CRD schema in {CRDS} for {obj['apiVersion']} {obj['kind']}"
    return [
        f"{obj['kind']}/{obj['metadata']['name']} at {'/'.join(map(str, e.absolute_path))}: "
        f"{e.message}"
        for e in validator.iter_errors(obj)
    ]


def custom_resources(objects: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    builtin = ("v1", "apps/", "batch/", "policy/", "autoscaling/", "networking.k8s.io/")
    return (obj for obj in objects if not obj["apiVersion"].startswith(builtin))


@pytest.mark.parametrize("path", CI_FILES, ids=CI_IDS)
def test_custom_resources_validate_against_their_crds(path: Path) -> None:
    errors = [
        e for obj in custom_resources(rendered(path.name)) for e in custom_resource_errors(obj)
    ]
    assert errors == []


def test_every_kind_of_custom_resource_is_checked_by_some_scenario() -> None:
    seen = {
        (obj["apiVersion"], obj["kind"])
        for path in CI_FILES
        for obj in custom_resources(rendered(path.name))
    }
    assert seen == set(crd_validators())


@pytest.mark.parametrize(
    ("kind", "breakage"),
    [
        ("ScaledObject", lambda o: o["spec"].update(maxReplicas=3)),  # it is maxReplicaCount
        ("HTTPRoute", lambda o: o["spec"]["rules"][0]["timeouts"].update(request="forever")),
        ("ServiceMonitor", lambda o: o["spec"]["endpoints"][0].update(portName="metrics")),
        ("PrometheusRule", lambda o: o["spec"]["groups"][0].pop("name")),
        ("TriggerAuthentication", lambda o: o["spec"]["secretTargetRef"][0].pop("key")),
    ],
)
def test_the_crd_check_refuses_a_broken_custom_resource(kind: str, breakage: Any) -> None:
    objects = [obj for path in CI_FILES for obj in rendered(path.name) if obj["kind"] == kind]
    assert objects, kind
    broken = copy.deepcopy(objects[0])
    assert custom_resource_errors(broken) == []
    breakage(broken)
    assert custom_resource_errors(broken)


# --- values.schema.json --------------------------------------------------------------------


BAD_VALUES = {
    "unknown top-level key": {"replicas": 3},
    "unknown nested key": {"api": {"replicas": 3}},
    "unknown key deep down": {"networkPolicy": {"egress": {"redis": {"port": 6379}}}},
    "unknown key in a Kubernetes object": {"api": {"resources": {"request": {"cpu": "1"}}}},
    "string for an integer": {"api": {"replicaCount": "two"}},
    "string for a boolean": {"ingress": {"enabled": "yes"}},
    "object for a list": {"tolerations": {"key": "x"}},
    "bad migrations mode": {"migrations": {"mode": "post-install"}},
    "bad pull policy": {"image": {"pullPolicy": "Sometimes"}},
    "bad log level": {"config": {"logLevel": "TRACE"}},
    "bad ingress controller": {"ingress": {"controller": "nginx-plus-plus"}},
    "bad service type": {"api": {"service": {"type": "External"}}},
    "port out of range": {"networkPolicy": {"egress": {"postgresql": {"ports": [70000]}}}},
    "no PostgreSQL port": {"networkPolicy": {"egress": {"postgresql": {"ports": []}}}},
    "zero processes": {"worker": {"processes": 0}},
    "negative preStop": {"realtime": {"preStopSeconds": -1}},
    "worker grace margin under gunicorn's 5 s and the exit": {
        "worker": {"terminationGraceMarginSeconds": 5}
    },
    "setting that is not TASKBOARD_*": {"config": {"extra": {"DATABASE_URL": "x"}}},
    "a database URL that is not PostgreSQL": {"externalDatabase": {"url": "mysql://db/x"}},
    "a storage URL that is not S3": {"storage": {"url": "/var/lib/taskboard"}},
    "a digest that is not sha256": {"image": {"digest": "latest"}},
    "a gateway duration it cannot read": {"httpRoute": {"apiTimeouts": {"request": "1 minute"}}},
    "a quantity it cannot read": {"api": {"resources": {"limits": {"memory": "lots"}}}},
    "an unknown security context field": {"containerSecurityContext": {"runAsRoot": False}},
}


@pytest.mark.parametrize("bad", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_the_schema_refuses_bad_values(bad: dict[str, Any]) -> None:
    with pytest.raises(helm_python.HelmValuesError):
        render_chart(merge(copy.deepcopy(MINIMAL), bad))


GOOD_VALUES = {
    "a percent surge": {"api": {"maxSurge": "50%"}},
    "a number surge": {"api": {"maxSurge": 2}},
    "a TTL for the plain Job": {"migrations": {"mode": "job", "ttlSecondsAfterFinished": 600}},
    "OpenShift's own user ids": {
        "podSecurityContext": {"runAsUser": None, "runAsGroup": None, "fsGroup": None},
        "containerSecurityContext": {"runAsUser": None, "runAsGroup": None},
    },
    "a setting by its variable": {"config": {"extra": {"TASKBOARD_DB_POOL_SIZE": "30"}}},
    "an affinity": {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["a"]}]}
                    ]
                }
            }
        }
    },
}


@pytest.mark.parametrize("good", GOOD_VALUES.values(), ids=GOOD_VALUES.keys())
def test_the_schema_takes_what_it_should(good: dict[str, Any]) -> None:
    assert render_chart(merge(copy.deepcopy(MINIMAL), good))


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict) and value:
            merge(base[key], value)
        else:
            base[key] = value
    return base


VALUES_TEXT = (CHART / "values.yaml").read_text()
VALUES = yaml.safe_load(VALUES_TEXT)
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
PARAMS = dict(re.findall(r"^\s*## @param (\S+)(?: \[\w+\])? (.*)$", VALUES_TEXT, re.MULTILINE))


def documented_paths(node: Any, prefix: str = "") -> Iterator[tuple[str, bool]]:
    """(path, documented) for every value: a key documented with @param counts as a whole
    (a Kubernetes object, a map); an undocumented one is descended into when it is a map."""
    for key, value in node.items():
        path = f"{prefix}{key}"
        if path in PARAMS:
            yield path, True
        elif isinstance(value, dict) and value:
            yield from documented_paths(value, f"{path}.")
        else:
            yield path, False


def test_every_value_is_documented_with_param() -> None:
    undocumented = [path for path, documented in documented_paths(VALUES) if not documented]
    assert undocumented == []
    assert all(description.strip() for description in PARAMS.values())


def test_every_param_names_a_value() -> None:
    def exists(path: str) -> bool:
        node: Any = VALUES
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    assert [path for path in PARAMS if not exists(path)] == []


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), f"remote $ref {ref}"
        node: Any = SCHEMA
        for part in ref[2:].split("/"):
            node = node[part]
        schema = node
    if "allOf" in schema:
        for part in schema["allOf"]:
            if "$ref" in part:
                return resolve(part)
    return schema


def schema_at(path: str) -> dict[str, Any] | None:
    node = SCHEMA
    for part in path.split("."):
        node = resolve(node)
        properties = node.get("properties", {})
        if part not in properties:
            return None
        node = properties[part]
    found: dict[str, Any] = node
    return found


def test_every_value_is_in_the_schema() -> None:
    missing = [path for path, _ in documented_paths(VALUES) if schema_at(path) is None]
    assert missing == []


def test_the_schema_is_self_contained_draft_07() -> None:
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    refs = re.findall(r'"\$ref":\s*"([^"]*)"', json.dumps(SCHEMA))
    assert refs
    assert [ref for ref in refs if not ref.startswith("#/")] == []
    # The defaults themselves are valid values.
    assert list(jsonschema.Draft7Validator(SCHEMA).iter_errors(VALUES)) == []


def object_schemas(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if node.get("type") == "object" or (
            isinstance(node.get("type"), list) and "object" in node["type"]
        ):
            yield where, node
        for key, value in node.items():
            yield from object_schemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from object_schemas(value, f"{where}/{index}")


def test_every_object_in_the_schema_refuses_unknown_keys() -> None:
    """additionalProperties false on every object with fixed keys; maps (labels, annotations,
    resource amounts, TASKBOARD_* settings) type their values instead. The only open objects
    are the affinity terms, Kubernetes' own, which the API server checks."""
    open_objects = []
    for where, node in object_schemas(SCHEMA):
        closed = node.get("additionalProperties") is False
        typed_map = isinstance(node.get("additionalProperties"), dict) and "properties" not in node
        if not (closed or typed_map):
            open_objects.append(where)
    assert open_objects
    assert all(
        re.search(r"/properties/(nodeAffinity|podAffinity|podAntiAffinity)$", w)
        for w in open_objects
    ), open_objects


def test_the_readme_lists_every_value() -> None:
    readme = (CHART / "README.md").read_text()
    _, found, table = readme.partition("## Parameters")
    assert found
    rows = re.findall(r"^\| `([^`]+)` \|", table, re.MULTILINE)
    assert sorted(set(PARAMS) - set(rows)) == []
    assert sorted(set(rows) - set(PARAMS)) == []
    assert len(rows) == len(set(rows))


# --- checkov ---------------------------------------------------------------------------------


def checkov_on(objects: list[dict[str, Any]]) -> list[str]:
    with tempfile.TemporaryDirectory() as directory:
        target = Path(directory) / "taskboard.yaml"
        target.write_text(yaml.safe_dump_all(objects, sort_keys=False))
        return checkov_failures(Path(directory), "kubernetes")


@pytest.mark.parametrize("path", CI_FILES, ids=CI_IDS)
def test_checkov_finds_nothing(path: Path) -> None:
    assert checkov_on(rendered(path.name)) == []


def test_checkov_reports_what_the_chart_must_not_do() -> None:
    # The scan sees the chart's pods: a writable root filesystem is found, and not skipped.
    values = with_values(
        load_yaml(CHART / "ci" / "production-values.yaml"),
        **{"containerSecurityContext.readOnlyRootFilesystem": False},
    )
    failures = checkov_on(render_chart(values, include_tests=True))
    assert any(failure.startswith("CKV_K8S_22 ") for failure in failures), failures


VARIANTS = {
    "everything off": {
        "tests": {"enabled": False},
        "metrics": {"enabled": False},
        "networkPolicy": {"enabled": False},
        "serviceAccount": {"create": False},
        "topologySpread": {"enabled": False},
    },
    "job mode with a TTL": {"migrations": {"mode": "job", "ttlSecondsAfterFinished": 3600}},
    "several worker processes": {"worker": {"processes": 4, "replicaCount": 2}},
    "one api process": {"api": {"webConcurrency": 1}},
    "closed policies without OTLP or S3": {
        "networkPolicy": {"allowExternal": False, "allowExternalEgress": False}
    },
    "closed policies with empty peer lists": {
        "networkPolicy": {
            "allowExternal": False,
            "allowExternalEgress": False,
            "allowFrom": [],
            "metricsFrom": [],
            "egress": {"smtp": {"ports": []}, "webhooks": {"enabled": False}},
        },
        "tests": {"enabled": False},
    },
    "pod placement": {
        "nodeSelector": {"pool": "general"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "tb"}],
        "priorityClassName": "high",
        "image": {"pullSecrets": ["registry"]},
        "realtime": {
            "nodeSelector": {"pool": "sockets"},
            "topologySpreadConstraints": [
                {
                    "maxSkew": 2,
                    "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": {"app.kubernetes.io/component": "realtime"}},
                }
            ],
        },
        "extraEnv": [{"name": "TZ", "value": "UTC"}],
    },
    "every ingress controller and TLS": {
        "ingress": {"enabled": True, "controller": "haproxy", "tls": {"enabled": True}},
        "httpRoute": {"enabled": True},
    },
}


@pytest.mark.parametrize("extra", VARIANTS.values(), ids=VARIANTS.keys())
def test_variants_validate_strictly(extra: dict[str, Any]) -> None:
    objects = render_chart(merge(copy.deepcopy(MINIMAL), copy.deepcopy(extra)), include_tests=True)
    errors = [
        error
        for version in (KUBE_VERSIONS[0], KUBE_VERSIONS[-1])
        for obj in objects
        for error in schema_errors(obj, version)
    ]
    errors += [e for obj in custom_resources(objects) for e in custom_resource_errors(obj)]
    assert errors == []
