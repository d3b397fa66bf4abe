"""skaffold.yaml: valid against Skaffold's JSON schema for its apiVersion (vendored in
tests/deploy/schemas/, see its README), building the image the chart runs and deploying the
chart with values it accepts.

No skaffold binary or cluster here. Each profile is applied as Skaffold applies it (the
profile's fields laid over the base, then its JSON patches); the release's setValueTemplates
are expanded as Skaffold expands them for a local build (the image id as tag, no digest) and
for a pushed one (the commit as tag, a digest), typed as Helm's --set types them, laid over
the release's `overrides`; and the chart is rendered with the result by Helm's own engine,
which validates them against values.schema.json. What comes out must run the built image,
with what the profile promises.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from pathlib import Path
from typing import Any

import helm_python
import jsonschema
import pytest
import yaml

from tests.deploy.tooling import CHART, ROOT, all_of, containers, load_yaml, render_chart

SKAFFOLD = ROOT / "skaffold.yaml"
SCHEMA_FILE = Path(__file__).parent / "schemas" / "skaffold-v4beta14.json"
SCHEMA = json.loads(SCHEMA_FILE.read_text())
PROFILES = ("dev", "prod")
# Fields of Skaffold's oneOf structs: a profile's value replaces the base's whole.
ONE_OF = {"local", "googleCloudBuild", "cluster", "docker", "kaniko", "buildpacks", "custom"}

COMMIT = "0123456789abcdef0123456789abcdef01234567"
IMAGE_ID = "f" * 64
DIGEST = "sha256:" + "a" * 64


def load() -> dict[str, Any]:
    config = load_yaml(SKAFFOLD)
    assert isinstance(config, dict)
    return config


def schema_errors(document: Any) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


# --- profiles, as Skaffold applies them -----------------------------------------------------


def _overlay(base: Any, profile: Any, key: str = "") -> Any:
    """Skaffold's overlayProfileField: structs merge field by field, oneOf structs, lists and
    scalars set in the profile replace the base's."""
    if isinstance(base, dict) and isinstance(profile, dict) and key not in ONE_OF:
        merged = dict(base)
        for name, value in profile.items():
            merged[name] = _overlay(base.get(name), value, name) if name in base else value
        return merged
    return copy.deepcopy(profile)


def _pointer(path: str) -> list[str]:
    assert path.startswith("/"), path
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def apply_patch(document: Any, patch: dict[str, Any]) -> None:
    *parents, last = _pointer(patch["path"])
    node = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    op = patch.get("op", "replace")
    if isinstance(node, list):
        index = len(node) if last == "-" else int(last)
        if op == "add":
            node.insert(index, copy.deepcopy(patch["value"]))
        elif op == "replace":
            node[index] = copy.deepcopy(patch["value"])
        elif op == "remove":
            del node[index]
        else:
            raise AssertionError(f"op {op} is not modelled here")
        return
    if op in ("add", "replace"):
        if op == "replace":
            assert last in node, f"replace of a missing {patch['path']}"
        node[last] = copy.deepcopy(patch["value"])
    elif op == "remove":
        del node[last]
    else:
        raise AssertionError(f"op {op} is not modelled here")


def effective(config: dict[str, Any], profile: str | None) -> dict[str, Any]:
    result = copy.deepcopy(config)
    result.pop("profiles", None)
    if profile is None:
        return result
    (chosen,) = [p for p in config.get("profiles", []) if p["name"] == profile]
    for key, value in chosen.items():
        if key in ("name", "activation", "patches", "requiresAllActivations"):
            continue
        result[key] = _overlay(result.get(key), value, key) if key in result else value
    for patch in chosen.get("patches", []):
        apply_patch(result, patch)
    return result


# --- setValueTemplates, as Skaffold expands them and Helm reads them ----------------------------

_TEMPLATE = re.compile(
    r"\{\{\s*\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*"
    r"(?:\|\s*default\s+\"(?P<default>[^\"]*)\"\s*)?\}\}"
)


def expand(template: str, env: dict[str, str]) -> str:
    """Go's text/template as used here: `{{.NAME}}` and `{{ .NAME | default "x" }}`;
    anything else is refused rather than guessed."""
    rest = _TEMPLATE.sub("", template)
    assert "{{" not in rest, f"template syntax not modelled: {template!r}"

    def replace(match: re.Match[str]) -> str:
        value = env.get(match["name"])
        if match["default"] is not None:
            return value or match["default"]
        # A missing key prints as "<no value>" in Go: a template must never miss one.
        assert value is not None, f"{template!r}: {match['name']} is not defined"
        return value

    return _TEMPLATE.sub(replace, template)


def sanitized(image: str) -> str:
    """Skaffold's SanitizeHelmTemplateValue: the artifact name as a template key."""
    return re.sub(r"[/\-.:@]", "_", image)


def image_variables(image: str, *, pushed: bool) -> dict[str, str]:
    """What Skaffold's envVarForImage gives templates for the built artifact: a local build
    is tagged with its image id (TagWithImageID) and has no digest; a pushed one is
    `repo:tag@digest`."""
    key = sanitized(image)
    tag, digest = (COMMIT, DIGEST) if pushed else (IMAGE_ID, "")
    domain, _, path = image.partition("/")
    return {
        f"IMAGE_REPO_{key}": image,
        f"IMAGE_TAG_{key}": tag,
        f"IMAGE_DIGEST_{key}": digest,
        f"IMAGE_DOMAIN_{key}": domain,
        f"IMAGE_REPO_NO_DOMAIN_{key}": path,
        f"IMAGE_FULLY_QUALIFIED_{key}": f"{image}:{tag}" + (f"@{digest}" if digest else ""),
    }


def helm_set_value(text: str) -> Any:
    """Helm's --set typing (strvals): booleans, null and integers are not strings."""
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if re.fullmatch(r"-?(0|[1-9]\d*)", text):
        return int(text)
    return text


def _set(values: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = values
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def release_values(
    release: dict[str, Any], image: str, *, pushed: bool, env: dict[str, str] | None = None
) -> dict[str, Any]:
    values = copy.deepcopy(release.get("overrides") or {})
    variables = {**(env or {}), **image_variables(image, pushed=pushed)}
    for key, template in (release.get("setValueTemplates") or {}).items():
        _set(values, key, helm_set_value(expand(template, variables)))
    for key, value in (release.get("setValues") or {}).items():
        _set(values, key, helm_set_value(str(value)))
    return values


def render(profile: str | None, *, pushed: bool, env: dict[str, str] | None = None) -> Any:
    config = effective(load(), profile)
    (artifact,) = config["build"]["artifacts"]
    (release,) = config["deploy"]["helm"]["releases"]
    values = release_values(release, artifact["image"], pushed=pushed, env=env)
    return render_chart(values, name=release["name"], namespace=release["namespace"])


def workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet")]


# --- the file against the schema ---------------------------------------------------------------


def test_skaffold_yaml_follows_its_schema() -> None:
    config = load()
    assert schema_errors(config) == []
    for profile in PROFILES:
        assert schema_errors(effective(config, profile)) == [], profile


def test_the_schema_is_the_version_the_file_declares() -> None:
    version = load()["apiVersion"]
    assert SCHEMA_FILE.name == f"skaffold-{version.removeprefix('skaffold/')}.json", version
    # And the newest the vendored schemas describe (the README says where they came from).
    readme = (SCHEMA_FILE.parent / "README.md").read_text()
    assert version in readme


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("chartPath: charts/taskboard", "chart: charts/taskboard"),
        ("localPort: 8001", "localPort: eight-thousand-one"),
        ("    activation:\n", "    activations:\n"),
        ("createNamespace: true", "createNamespace: yes please"),
        ("variant: CommitSha", "variant: ShortSha"),
    ],
)
def test_a_broken_skaffold_yaml_fails_the_schema(old: str, new: str) -> None:
    text = SKAFFOLD.read_text()
    assert old in text, old
    assert schema_errors(yaml.safe_load(text.replace(old, new, 1)))


# --- build and deploy ----------------------------------------------------------------------


def test_it_builds_the_image_the_chart_runs() -> None:
    config = load()
    (artifact,) = config["build"]["artifacts"]
    assert artifact["image"] == load_yaml(CHART / "values.yaml")["image"]["repository"]
    assert (ROOT / artifact["context"]).resolve() == ROOT
    dockerfile = ROOT / artifact["context"] / artifact["docker"]["dockerfile"]
    assert dockerfile.resolve() == (ROOT / "services" / "Dockerfile")
    (release,) = config["deploy"]["helm"]["releases"]
    assert (ROOT / release["chartPath"]).resolve() == CHART


def image_template_problems(config: dict[str, Any]) -> list[str]:
    """Every IMAGE_* variable a template reads must be one Skaffold sets for the artifact."""
    (artifact,) = config["build"]["artifacts"]
    known = set(image_variables(artifact["image"], pushed=True))
    problems = []
    for release in config["deploy"]["helm"]["releases"]:
        templates = release.get("setValueTemplates") or {}
        for key in ("image.repository", "image.tag", "image.digest"):
            if key not in templates:
                problems.append(f"{key}: not set from the build")
        for key, template in templates.items():
            for name in re.findall(r"\.(IMAGE_[A-Za-z0-9_]+)", template):
                if name not in known:
                    problems.append(f"{key}: {name} is not a variable of the built image")
    return problems


def test_the_chart_is_given_the_built_image() -> None:
    assert image_template_problems(load()) == []
    wrong = copy.deepcopy(load())
    templates = wrong["deploy"]["helm"]["releases"][0]["setValueTemplates"]
    templates["image.tag"] = "{{.IMAGE_TAG_taskboard}}"
    assert image_template_problems(wrong) == [
        "image.tag: IMAGE_TAG_taskboard is not a variable of the built image"
    ]
    del templates["image.digest"]
    assert "image.digest: not set from the build" in image_template_problems(wrong)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("pushed", [False, True], ids=["local-build", "pushed-build"])
def test_every_pod_runs_the_built_image(profile: str, pushed: bool) -> None:
    objects = render(profile, pushed=pushed)
    image = load()["build"]["artifacts"][0]["image"]
    expected = f"{image}:{COMMIT}@{DIGEST}" if pushed else f"{image}:{IMAGE_ID}"
    found = workloads(objects)
    assert {o["kind"] for o in found} >= {"Deployment"}
    for workload in found:
        for container in containers(workload):
            assert container["image"] == expected, (workload["metadata"]["name"], container)


def test_the_dev_profile_runs_one_pod_of_each_in_development() -> None:
    objects = render("dev", pushed=False)
    deployments = {d["metadata"]["name"]: d for d in all_of(objects, "Deployment")}
    components = {
        d["metadata"]["labels"]["app.kubernetes.io/component"] for d in deployments.values()
    }
    assert components == {"api", "realtime", "worker"}
    for name, deployment in deployments.items():
        assert deployment["spec"].get("replicas") == 1, name
    settings = _settings(objects)
    assert settings["TASKBOARD_ENV"] == "development"
    profile = next(p for p in load()["profiles"] if p["name"] == "dev")
    assert {"command": "dev"} in profile["activation"], "`skaffold dev` picks it by itself"


def test_the_dev_profile_takes_its_urls_from_the_environment() -> None:
    env = {
        "TASKBOARD_DATABASE_URL": "postgresql://me:pw@db.dev.svc:5432/board",
        "TASKBOARD_REDIS_URL": "redis://cache.dev.svc:6379/1",
        "TASKBOARD_SECRET_KEY": "s" * 48,
    }
    secrets = _secret_values(render("dev", pushed=False, env=env))
    assert set(env.values()) <= secrets
    defaults = _secret_values(render("dev", pushed=False))
    assert any(v.startswith("postgresql://") for v in defaults)
    assert any(v.startswith("redis://") for v in defaults)


def test_the_prod_profile_uses_a_managed_secret_and_the_charts_defaults() -> None:
    objects = render("prod", pushed=True)
    assert _settings(objects)["TASKBOARD_ENV"] == "production"
    assert not [
        s
        for s in all_of(objects, "Secret")
        if "helm.sh/hook" not in s["metadata"].get("annotations", {})
    ], "the prod profile keeps secrets out of Helm's release"
    mounted = {name for workload in workloads(objects) for name in _secret_names(_pod(workload))}
    assert "taskboard-secrets" in mounted
    for deployment in all_of(objects, "Deployment"):
        component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        if component in ("api", "realtime"):
            # The chart's production replicas (or its autoscaler), not the dev profile's one.
            assert deployment["spec"].get("replicas", 2) > 1, component
    config = effective(load(), "prod")
    assert config["build"]["local"]["push"] is True, "a release is pushed and pinned by digest"
    assert config["deploy"]["helm"]["releases"][0]["wait"] is True


def test_a_value_the_chart_does_not_have_is_refused() -> None:
    """The rendering above is a real check of the values: the chart's schema refuses what it
    does not know, so a misspelt override in a profile fails here."""
    config = effective(load(), "dev")
    (release,) = config["deploy"]["helm"]["releases"]
    values = release_values(release, config["build"]["artifacts"][0]["image"], pushed=False)
    values["api"]["replicas"] = values["api"].pop("replicaCount")
    with pytest.raises(helm_python.HelmValuesError):
        render_chart(values, name=release["name"], namespace=release["namespace"])


def test_port_forwards_reach_the_api_and_realtime_services() -> None:
    config = load()
    (release,) = config["deploy"]["helm"]["releases"]
    objects = render("dev", pushed=False)
    services = {s["metadata"]["name"]: s for s in all_of(objects, "Service")}
    forwarded: dict[str, int] = {}
    for forward in config["portForward"]:
        assert forward["resourceType"] == "service"
        assert forward.get("namespace") == release["namespace"]
        service = services.get(forward["resourceName"])
        assert service is not None, (forward["resourceName"], sorted(services))
        port = next(p for p in service["spec"]["ports"] if p["port"] == forward["port"])
        assert port["name"] == "http"
        forwarded[service["spec"]["selector"]["app.kubernetes.io/component"]] = forward["localPort"]
    assert set(forwarded) == {"api", "realtime"}
    assert len(set(forwarded.values())) == 2, "two local ports"


def test_the_profile_machinery_is_faithful() -> None:
    """The overlay and patches above, on a known case: a patch adds to the base release, a
    profile's oneOf field replaces the base's, a list index and an escaped key resolve."""
    base = {
        "build": {"local": {"useBuildkit": True, "concurrency": 2}, "tagPolicy": {"sha256": {}}},
        "deploy": {"helm": {"releases": [{"name": "r", "setValueTemplates": {}}]}},
        "profiles": [
            {
                "name": "p",
                "build": {"local": {"push": True}},
                "patches": [
                    {"op": "add", "path": "/deploy/helm/releases/0/wait", "value": True},
                    {
                        "op": "add",
                        "path": "/deploy/helm/releases/0/setValueTemplates/a.b~1c",
                        "value": "{{.X}}",
                    },
                ],
            }
        ],
    }
    result = effective(base, "p")
    assert result["build"]["local"] == {"push": True}
    assert result["build"]["tagPolicy"] == {"sha256": {}}
    assert result["deploy"]["helm"]["releases"][0]["wait"] is True
    assert result["deploy"]["helm"]["releases"][0]["setValueTemplates"] == {"a.b/c": "{{.X}}"}
    assert expand('{{ .X | default "d" }}', {}) == "d"
    assert expand("{{.X}}", {"X": "v"}) == "v"
    with pytest.raises(AssertionError, match="not defined"):
        expand("{{.X}}", {})
    with pytest.raises(AssertionError, match="not modelled"):
        expand("{{ .X | upper }}", {"X": "v"})
    assert helm_set_value("1234567") == 1234567
    assert sanitized("ghcr.io/taskboard/taskboard") == "ghcr_io_taskboard_taskboard"


def _pod(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def _secret_names(pod: dict[str, Any]) -> set[str]:
    """Secrets a pod mounts, directly or through a projected volume."""
    names = set()
    for volume in pod.get("volumes", []):
        if "secret" in volume:
            names.add(volume["secret"]["secretName"])
        for source in volume.get("projected", {}).get("sources", []):
            if "secret" in source:
                names.add(source["secret"]["name"])
    return names


def _settings(objects: list[dict[str, Any]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for config_map in all_of(objects, "ConfigMap"):
        for key, value in (config_map.get("data") or {}).items():
            if key.startswith("TASKBOARD_"):
                found[key] = value
    assert found, "no ConfigMap carries the settings"
    return found


def _secret_values(objects: list[dict[str, Any]]) -> set[str]:
    values: set[str] = set()
    for secret in all_of(objects, "Secret"):
        for value in (secret.get("data") or {}).values():
            values.add(base64.b64decode(value).decode())
        values.update((secret.get("stringData") or {}).values())
    return values
