"""Terraform (terraform/): `terraform fmt` is clean, every file parses with python-hcl2, the
structure holds (variables typed and described, secrets sensitive, validations where a value can
be wrong, providers pinned, Helm provider 3 syntax, `wait` with the Terraform-made Secret as the
chart's existingSecret, outputs described, module sources pinned), and checkov finds nothing.

`terraform validate` cannot run offline: it needs the providers (hashicorp/helm, kubernetes, aws,
random) and the examples' modules, and none can be downloaded here. What terraform can do without
them, it does: the module's variables.tf and values.tf, copied with a stub for the two locals
that come from resources, form a root module without providers; `terraform init` needs nothing
for it, so terraform itself runs every validation block against good and bad inputs, and
evaluates the Helm values the module would pass, with which the chart then renders (its schema
checks them) and keeps the promise that makes `wait = true` safe.

The structural checks are functions returning their problems, run on a broken copy too."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hcl2
import pytest

from taskboard.core.config import Settings
from tests.deploy.tooling import (
    CHART,
    TERRAFORM,
    all_of,
    checkov_failures,
    find,
    load_yaml,
    render_chart,
    require_tool,
)

Obj = dict[str, Any]

MODULE = TERRAFORM / "modules" / "taskboard"
EXAMPLES = TERRAFORM / "examples"
# Names that hold a credential, wherever they appear in terraform/.
SECRET_NAME = re.compile(r"password|secret|token|database_url|redis_url|smtp_url")
# The module's inputs an operator can get wrong in a way taskboard would refuse at start-up, or
# the cluster at apply: each must be refused by terraform first.
MUST_VALIDATE = {
    "namespace",
    "release_name",
    "image",
    "database_url",
    "redis_url",
    "secret_key",
    "secret_key_previous",
    "smtp_url",
    "storage_s3_secret_access_key",
    "public_url",
    "trusted_proxies",
    "otlp_endpoint",
    "log_level",
    "storage",
    "settings",
    "replicas",
    "autoscaling",
    "ingress",
    "network_policy",
    "helm_timeout_seconds",
}
# "~> 3.1" (any 3.x from 3.1) or an exact version; ">= 3.0" would take the next major.
PINNED = re.compile(r"^(~>\s*\d+\.\d+|=?\s*\d+\.\d+\.\d+$)")
REQUIRED_VERSION = re.compile(r"^>=\s*1\.\d+")
GIT_COMMIT = re.compile(r"^git::https://[^?]+\?ref=[0-9a-f]{40}$")
CHECKOV_SKIP = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")


def terraform_env() -> dict[str, str]:
    return {
        **os.environ,
        "TF_CLI_CONFIG_FILE": "/dev/null",
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }


def unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def tf_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.tf") if ".terraform" not in p.parts)


def load(path: Path) -> Obj:
    with path.open() as handle:
        doc: Obj = hcl2.load(handle)
    return doc


def labelled(doc: Obj, kind: str) -> Iterator[tuple[str, Obj]]:
    """`variable "x" {...}` (one label) blocks: (x, body)."""
    for entry in doc.get(kind, []):
        for label, body in entry.items():
            if not label.startswith("__"):
                yield unquote(label), body


def resources(doc: Obj, kind: str) -> Iterator[tuple[str, Obj]]:
    for entry in doc.get("resource", []):
        for label, named in entry.items():
            if unquote(label) == kind:
                for name, body in named.items():
                    yield unquote(name), body


def is_block(value: Any) -> bool:
    if isinstance(value, list):
        return any(isinstance(v, dict) and v.get("__is_block__") for v in value)
    return isinstance(value, dict) and bool(value.get("__is_block__"))


# ---- the structural checks --------------------------------------------------------------------


def variable_problems(root: Path) -> list[str]:
    problems: list[str] = []
    for path in tf_files(root):
        in_module = path.parent.name == "taskboard"
        for name, body in labelled(load(path), "variable"):
            where = f"{path.relative_to(root)}: variable {name}"
            if "type" not in body:
                problems.append(f"{where} has no type")
            if not unquote(body.get("description", "")).strip():
                problems.append(f"{where} has no description")
            if SECRET_NAME.search(name) and body.get("sensitive") is not True:
                problems.append(f"{where} holds a secret and is not sensitive")
            if in_module and name in MUST_VALIDATE and not body.get("validation"):
                problems.append(f"{where} has no validation")
    return problems


def output_problems(root: Path) -> list[str]:
    return [
        f"{path.relative_to(root)}: output {name} has no description"
        for path in tf_files(root)
        for name, body in labelled(load(path), "output")
        if not unquote(body.get("description", "")).strip()
    ]


def version_problems(root: Path) -> list[str]:
    """Every root (the module, each example) states required_version and pins each provider
    to a major version (or an exact one)."""
    problems: list[str] = []
    for directory in sorted({p.parent for p in tf_files(root)}):
        where = directory.relative_to(root)
        blocks = [b for p in tf_files(directory) for b in load(p).get("terraform", [])]
        if not blocks:
            problems.append(f"{where}: no terraform block")
        for block in blocks:
            if not REQUIRED_VERSION.match(unquote(block.get("required_version", ""))):
                problems.append(f"{where}: required_version is not set")
            providers = [
                (name, spec)
                for entry in block.get("required_providers", [])
                for name, spec in entry.items()
                if not name.startswith("__")
            ]
            if not providers:
                problems.append(f"{where}: no required_providers")
            for name, spec in providers:
                if not unquote(spec.get("source", "")).startswith("hashicorp/"):
                    problems.append(f"{where}: provider {name} has no source")
                if not PINNED.match(unquote(spec.get("version", ""))):
                    problems.append(f"{where}: provider {name} is not pinned")
    return problems


def release_problems(root: Path) -> list[str]:
    """The module's helm_release: provider 3 syntax, `wait`, and the Terraform-made Secret as
    existingSecret (what makes `wait` safe; see main.tf)."""
    main = load(root / "modules" / "taskboard" / "main.tf")
    releases = list(resources(main, "helm_release"))
    if len(releases) != 1:
        return [f"{len(releases)} helm_release resources in the module"]
    _, release = releases[0]
    problems: list[str] = []
    sets = release.get("set")
    if not isinstance(sets, list) or not sets or is_block(sets):
        problems.append("helm_release.set is not a list attribute (Helm provider 3: set = [...])")
        sets = []
    by_name = {unquote(s.get("name")): s.get("value", "") for s in sets if isinstance(s, dict)}
    if not str(by_name.get("existingSecret", "")).startswith("${kubernetes_secret_v1."):
        problems.append("existingSecret is not the kubernetes_secret_v1 made by the module")
    if release.get("wait") is not True:
        problems.append("helm_release.wait is not true")
    for needed in ("atomic", "timeout"):
        if needed not in release:
            problems.append(f"helm_release.{needed} is not set")
    if "${yamlencode(local.values)}" not in release.get("values", []):
        problems.append("helm_release.values does not carry local.values")
    if not list(resources(main, "kubernetes_secret_v1")):
        problems.append("the module makes no kubernetes_secret_v1")
    return problems


def provider_problems(root: Path) -> list[str]:
    """Examples configure the Helm provider with its 3.x attribute `kubernetes = {...}`; the
    module configures no provider (its caller does)."""
    problems: list[str] = []
    for path in tf_files(root):
        for name, body in labelled(load(path), "provider"):
            where = f"{path.relative_to(root)}: provider {name}"
            if path.is_relative_to(root / "modules"):
                problems.append(f"{where}: a module must not configure providers")
            if name == "helm" and (is_block(body.get("kubernetes")) or "kubernetes" not in body):
                problems.append(f"{where}: kubernetes is not an attribute (kubernetes = {{...}})")
    return problems


def module_source_problems(root: Path) -> list[str]:
    problems: list[str] = []
    for path in tf_files(root):
        for name, body in labelled(load(path), "module"):
            source = unquote(body.get("source", ""))
            if source.startswith("../"):
                continue
            if not GIT_COMMIT.match(source) and not unquote(body.get("version", "")):
                problems.append(f"{path.relative_to(root)}: module {name} is not pinned")
    return problems


CHECKS: dict[str, Callable[[Path], list[str]]] = {
    "variables": variable_problems,
    "outputs": output_problems,
    "versions": version_problems,
    "release": release_problems,
    "providers": provider_problems,
    "module sources": module_source_problems,
}


# ---- the real tree ----------------------------------------------------------------------------


def test_terraform_fmt_is_clean() -> None:
    proc = subprocess.run(
        [require_tool("terraform"), "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)],
        capture_output=True,
        text=True,
        env=terraform_env(),
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_file_parses() -> None:
    files = tf_files(TERRAFORM)
    assert {p.parent for p in files} >= {MODULE, EXAMPLES / "aws", EXAMPLES / "existing-cluster"}
    for path in files:
        assert load(path), path


@pytest.mark.parametrize("check", CHECKS, ids=list(CHECKS))
def test_structure(check: str) -> None:
    assert CHECKS[check](TERRAFORM) == []


def test_the_readme_documents_every_input_and_output() -> None:
    readme = (MODULE / "README.md").read_text()
    names = [
        n
        for p in tf_files(MODULE)
        for kind in ("variable", "output")
        for n, _ in labelled(load(p), kind)
    ]
    assert names
    assert [n for n in names if f"`{n}`" not in readme] == []
    for example in (EXAMPLES / "aws", EXAMPLES / "existing-cluster"):
        assert [n for p in tf_files(example) for n, _ in labelled(load(p), "output")], example


def test_the_secrets_keys_are_the_charts_and_the_apps() -> None:
    """The Secret's keys are the names the chart mounts by default (existingSecretKeys) and the
    settings the application reads from files named like them."""
    main = (MODULE / "main.tf").read_text()
    block = main[main.index("secret_data = merge(") : main.index("secret_version =")]
    keys = set(re.findall(r"\b(TASKBOARD_[A-Z0-9_]+)\s*=", block))
    chart_keys = set(load_yaml(CHART / "values.yaml")["existingSecretKeys"].values())
    assert keys == chart_keys - {"KEDA_REDIS_PASSWORD"}
    for key in keys:
        assert key.removeprefix("TASKBOARD_").lower() in Settings.model_fields, key


def test_the_aws_example_wires_the_managed_services_into_the_module() -> None:
    doc = load(EXAMPLES / "aws" / "main.tf")
    modules = dict(labelled(doc, "module"))
    taskboard = modules["taskboard"]
    assert unquote(taskboard["source"]) == "../../modules/taskboard"
    assert "module.db." in taskboard["database_url"]
    assert "?ssl=require" in taskboard["database_url"]
    assert unquote(taskboard["redis_url"]).startswith("rediss://")
    assert "module.cache." in taskboard["redis_url"]
    assert "module.files." in json.dumps(taskboard["storage"])
    assert "aws_iam_role.taskboard" in json.dumps(taskboard["service_account_annotations"])
    assert {"vpc", "eks", "db", "cache", "files"} <= set(modules)


def test_checkov_finds_nothing() -> None:
    assert checkov_failures(TERRAFORM, "terraform") == []


def test_checkov_skips_are_in_place_with_reasons() -> None:
    for path in tf_files(TERRAFORM):
        for match in CHECKOV_SKIP.finditer(path.read_text()):
            reason = (match.group(2) or "").strip()
            assert len(reason.split()) >= 5, f"{path}: {match.group(0)!r} gives no reason"


def test_checkov_fails_a_public_bucket(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "aws_s3_bucket_public_access_block" "files" {\n'
        '  bucket                  = "taskboard-files"\n'
        "  block_public_acls       = false\n"
        "  block_public_policy     = false\n"
        "  ignore_public_acls      = false\n"
        "  restrict_public_buckets = false\n"
        "}\n"
    )
    assert checkov_failures(tmp_path, "terraform")


# ---- a broken copy: each check can fail -------------------------------------------------------


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


BREAKAGES: dict[str, tuple[str, str, str, str]] = {
    # check, file, old, new
    "secret-not-sensitive": (
        "variables",
        "modules/taskboard/variables.tf",
        'description = "TASKBOARD_SECRET_KEY: signs access tokens; at least 32 random '
        'characters."\n  sensitive   = true',
        'description = "TASKBOARD_SECRET_KEY: signs access tokens; at least 32 random characters."',
    ),
    "untyped-variable": (
        "variables",
        "modules/taskboard/variables.tf",
        '  type        = string\n  description = "TASKBOARD_LOG_LEVEL."',
        '  description = "TASKBOARD_LOG_LEVEL."',
    ),
    "set-as-blocks": (
        "release",
        "modules/taskboard/main.tf",
        "  set = [\n"
        '    { name = "existingSecret", value = kubernetes_secret_v1.this.metadata[0].name, '
        'type = "string" },\n'
        '    { name = "image.tag", value = var.image.tag, type = "string" },\n'
        "  ]",
        '  set {\n    name  = "image.tag"\n    value = var.image.tag\n  }',
    ),
    "no-wait": ("release", "modules/taskboard/main.tf", "wait            = true", "wait = false"),
    "undescribed-output": (
        "outputs",
        "modules/taskboard/outputs.tf",
        '  description = "Namespace taskboard runs in."\n',
        "",
    ),
    "unpinned-provider": (
        "versions",
        "modules/taskboard/versions.tf",
        'version = "~> 3.0"',
        'version = ">= 2.0"',
    ),
    "helm-kubernetes-block": (
        "providers",
        "examples/existing-cluster/main.tf",
        'provider "helm" {\n  kubernetes = {',
        'provider "helm" {\n  kubernetes {',
    ),
    "unpinned-module": (
        "module sources",
        "examples/aws/main.tf",
        "?ref=82d1929e669efef4e2ad00611b8a68e7a56e049c",
        "?ref=main",
    ),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_copy_fails_its_check(breakage: str, tmp_path: Path) -> None:
    check, file, old, new = BREAKAGES[breakage]
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, copy, ignore=shutil.ignore_patterns(".terraform*"))
    _edit(copy / file, old, new)
    assert CHECKS[check](copy), breakage


# ---- terraform evaluates the module's validations and values ----------------------------------


GOOD: dict[str, Any] = {
    "database_url": "postgresql://taskboard:pw@db.internal:5432/taskboard?ssl=require",
    "redis_url": "rediss://:token@redis.internal:6379/0",
    "secret_key": "k" * 48,
    "public_url": "https://taskboard.example.com",
}

FULL: dict[str, Any] = {
    **GOOD,
    "release_name": "tb",
    "smtp_url": "smtp://user:pw@mail.example.com:587",
    "storage": {"url": "s3://taskboard-files/prod", "region": "eu-west-1"},
    "service_account_annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/tb"},
    "trusted_proxies": ["10.40.48.0/24", "10.40.49.7"],
    "otlp_endpoint": "http://otel-collector.observability:4318",
    "settings": {"TASKBOARD_DB_POOL_SIZE": "30"},
    "ingress": {
        "hostname": "taskboard.example.com",
        "class_name": "alb",
        "annotations": {"alb.ingress.kubernetes.io/target-type": "ip"},
        "tls": False,
    },
    "network_policy": {
        "ingress_cidrs": ["10.40.48.0/24"],
        "database_cidrs": ["10.40.52.0/24"],
        "redis_cidrs": ["10.40.56.0/24"],
    },
    "replicas": {"api": 3, "realtime": 3, "worker": 2},
    "autoscaling": {"enabled": True, "api_max_replicas": 12},
    "monitoring": {"service_monitor": True, "prometheus_rule": True, "labels": {"release": "kps"}},
}


class Harness:
    """The module's variables and values as a provider-free root module."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.terraform = require_tool("terraform")
        for name in ("variables.tf", "values.tf"):
            shutil.copy(MODULE / name, directory / name)
        main = (MODULE / "main.tf").read_text()
        # The module's own naming expressions, verbatim; the Secret's resourceVersion stubbed.
        naming = [
            re.search(rf"^\s*{name}\s*=.*$", main, re.MULTILINE)
            for name in ("fullname", "secret_name")
        ]
        assert all(naming), "main.tf lost local.fullname or local.secret_name"
        outputs = (MODULE / "outputs.tf").read_text()
        wanted = ("api_service", "realtime_service", "service_account_name")
        kept = [
            block
            for block in re.findall(
                r'^output "[^"]+" \{.*?^\}\n', outputs, re.MULTILINE | re.DOTALL
            )
            if any(f'output "{name}"' in block for name in wanted)
        ]
        assert len(kept) == len(wanted)
        (directory / "stub.tf").write_text(
            "locals {\n"
            + "".join(f"{m.group(0)}\n" for m in naming if m)
            + '  secret_version = "4242"\n}\n\n'
            # Not sensitive: terraform refuses to output a value derived from a sensitive
            # variable, so no secret can reach the Helm values unnoticed.
            + 'output "values" {\n  value = local.values\n}\n\n'
            + 'output "secret_name" {\n  value = local.secret_name\n}\n\n'
            + "".join(kept)
        )
        self._run("init", "-input=false", "-backend=false")

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.terraform, *args, "-no-color"],
            cwd=self.dir,
            capture_output=True,
            text=True,
            env=terraform_env(),
            timeout=120,
            check=False,
        )

    def plan(self, variables: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        (self.dir / "inputs.tfvars.json").write_text(json.dumps(variables))
        return self._run(
            "plan", "-input=false", "-lock=false", "-var-file=inputs.tfvars.json", "-out=plan"
        )

    def outputs(self, variables: dict[str, Any]) -> dict[str, Any]:
        proc = self.plan(variables)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        shown = self._run("show", "-json", "plan")
        assert shown.returncode == 0, shown.stderr
        planned = json.loads(shown.stdout)["planned_values"]["outputs"]
        return {name: output["value"] for name, output in planned.items()}


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Harness:
    return Harness(tmp_path_factory.mktemp("terraform-module"))


def test_good_inputs_pass_the_validations(harness: Harness) -> None:
    for variables in (GOOD, FULL):
        proc = harness.plan(variables)
        assert proc.returncode == 0, proc.stdout + proc.stderr


BAD: dict[str, tuple[dict[str, Any], str]] = {
    "short-secret-key": ({"secret_key": "too-short"}, "secret_key"),
    "mysql-url": ({"database_url": "mysql://u:p@db/x"}, "database_url"),
    "http-redis": ({"redis_url": "http://redis:6379"}, "redis_url"),
    "ftp-public-url": ({"public_url": "ftp://taskboard"}, "public_url"),
    "no-replicas": ({"replicas": {"api": 0}}, "replicas"),
    "half-replica": ({"replicas": {"worker": 1.5}}, "replicas"),
    "max-below-min": (
        {"replicas": {"api": 5}, "autoscaling": {"enabled": True, "api_max_replicas": 3}},
        "autoscaling",
    ),
    "local-storage": ({"storage": {"url": "file:///var/lib/taskboard"}}, "storage"),
    "s3-secret-without-id": (
        {"storage": {"url": "s3://files"}, "storage_s3_secret_access_key": "s" * 40},
        "storage_s3_secret_access_key",
    ),
    "secret-in-settings": ({"settings": {"TASKBOARD_SECRET_KEY": "x" * 40}}, "settings"),
    "latest-image": ({"image": {"tag": "latest"}}, "image"),
    "bad-proxy": ({"trusted_proxies": ["the load balancer"]}, "trusted_proxies"),
    "unknown-controller": (
        {"ingress": {"hostname": "tb.example.com", "controller": "nginx-plus"}},
        "ingress",
    ),
    "verbose-logs": ({"log_level": "TRACE"}, "log_level"),
    "namespace-case": ({"namespace": "TaskBoard"}, "namespace"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_inputs_are_refused_by_their_variable(harness: Harness, case: str) -> None:
    change, variable = BAD[case]
    proc = harness.plan({**GOOD, **change})
    assert proc.returncode != 0, case
    assert "Invalid value for variable" in proc.stderr, proc.stderr
    assert refused_variables(proc.stderr) == {variable}, proc.stderr


def refused_variables(stderr: str) -> set[str]:
    """The variables whose validation blocks refused (terraform names the rule's line)."""
    lines = (MODULE / "variables.tf").read_text().splitlines()
    starts = [
        (number, match.group(1))
        for number, line in enumerate(lines, start=1)
        if (match := re.match(r'^variable "([^"]+)"', line))
    ]
    refused: set[str] = set()
    for line in re.findall(r"validation rule at variables\.tf:(\d+)", stderr):
        refused.add(next(name for start, name in reversed(starts) if start <= int(line)))
    return refused


@pytest.fixture(scope="module")
def full(harness: Harness) -> dict[str, Any]:
    return harness.outputs(FULL)


def render(outputs: dict[str, Any], release: str) -> list[Obj]:
    """The chart as helm_release installs it: the module's values, then its `set` entries."""
    values = json.loads(json.dumps(outputs["values"]))
    values["existingSecret"] = outputs["secret_name"]
    values["image"]["tag"] = ""
    return render_chart(values, name=release)


def test_the_chart_renders_with_the_modules_values(full: dict[str, Any]) -> None:
    objects = render(full, FULL["release_name"])
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert ("Service", full["api_service"]) in names
    assert ("Service", full["realtime_service"]) in names
    for dep in all_of(objects, "Deployment"):
        template = dep["spec"]["template"]
        assert template["spec"]["serviceAccountName"] == full["service_account_name"]
        assert template["metadata"]["annotations"]["taskboard.io/secret-version"] == "4242"
        # The HPAs own the replicas.
        assert "replicas" not in dep["spec"]
    ingress = find(objects, "Ingress")
    assert ingress["spec"]["rules"][0]["host"] == "taskboard.example.com"
    assert find(objects, "ServiceAccount")["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/tb"
    }
    settings = find(objects, "ConfigMap")["data"]
    assert settings["TASKBOARD_STORAGE_URL"] == "s3://taskboard-files/prod"
    assert settings["TASKBOARD_DB_POOL_SIZE"] == "30"
    # The policies are closed: the module's peers are the only way in, and out.
    for policy in all_of(objects, "NetworkPolicy"):
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("from"), (policy["metadata"]["name"], rule)
        for rule in policy["spec"].get("egress", []):
            assert rule.get("to") or rule.get("ports"), (policy["metadata"]["name"], rule)


def secrets_mounted(workload: Obj) -> set[str]:
    names: set[str] = set()
    for volume in workload["spec"]["template"]["spec"].get("volumes", []):
        if "secret" in volume:
            names.add(volume["secret"]["secretName"])
        for source in volume.get("projected", {}).get("sources", []):
            if "secret" in source:
                names.add(source["secret"]["name"])
    return names


def test_wait_is_safe_with_the_modules_values(full: dict[str, Any]) -> None:
    """What main.tf's comment promises: the migration is a pre-install/pre-upgrade hook that
    reads only the Terraform-made Secret, nothing is a post-install hook, the chart makes no
    Secret of its own, and every pod waits for the schema."""
    objects = render(full, FULL["release_name"])
    secret = full["secret_name"]
    assert all_of(objects, "Secret") == []
    hooks = {
        (o["kind"], o["metadata"]["name"]): o["metadata"]
        .get("annotations", {})
        .get("helm.sh/hook", "")
        for o in objects
    }
    assert not any("post-install" in h or "post-upgrade" in h for h in hooks.values())
    job = find(objects, "Job")
    assert set(hooks["Job", job["metadata"]["name"]].split(",")) == {"pre-install", "pre-upgrade"}
    for workload in [job, *all_of(objects, "Deployment")]:
        assert secrets_mounted(workload) == {secret}, workload["metadata"]["name"]
    for dep in all_of(objects, "Deployment"):
        argv = [
            [*c.get("command", []), *c.get("args", [])]
            for c in dep["spec"]["template"]["spec"].get("initContainers", [])
        ]
        assert any("migrate" in a and "--wait" in a for a in argv), dep["metadata"]["name"]


@pytest.mark.parametrize("release", ["taskboard", "tb"])
def test_the_modules_names_are_the_charts(harness: Harness, release: str) -> None:
    outputs = harness.outputs({**GOOD, "release_name": release})
    objects = render(outputs, release)
    assert find(objects, "Service", outputs["api_service"])
    assert find(objects, "Service", outputs["realtime_service"])
    assert find(objects, "ServiceAccount", outputs["service_account_name"])


def test_no_secret_reaches_the_helm_values(harness: Harness) -> None:
    """The harness's `values` output is not marked sensitive: terraform refuses it when a
    sensitive variable flows in. Feeding one in on purpose shows the guard works."""
    values_tf = harness.dir / "values.tf"
    original = values_tf.read_text()
    try:
        values_tf.write_text(
            original.replace("      from = var.smtp_from", "      from = var.secret_key", 1)
        )
        proc = harness.plan(GOOD)
        assert proc.returncode != 0
        assert "sensitive" in proc.stderr.lower(), proc.stderr
    finally:
        values_tf.write_text(original)
