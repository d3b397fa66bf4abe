"""The alert rules and Grafana dashboards the chart ships (charts/taskboard/files/) against the
metrics the application really exports, read from its Prometheus registries after importing
every module of the package: every PromQL expression parses, names only exported metrics (or
a few documented external ones) with labels those metrics carry, and every legend and
annotation names a label its expression keeps. Every alert is complete and has its runbook
entry in docs/operations.md; every dashboard imports as it is, through the datasource
variable. Each check is also fed a broken copy and must refuse it."""

from __future__ import annotations

import copy
import importlib
import json
import pkgutil
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from types import ModuleType
from typing import Any

import prometheus_client
import promql_parser
import pytest
import yaml
from prometheus_client.registry import Collector, CollectorRegistry

import taskboard
from taskboard.core.config import Settings
from tests.deploy.tooling import CHART, KUSTOMIZE, ROOT, all_of, find, kustomize_build, render_chart

RULES = CHART / "files" / "alerts" / "taskboard.rules.yaml"
DASHBOARDS = CHART / "files" / "dashboards"
OPERATIONS = ROOT / "docs" / "operations.md"
RUNBOOK_HEADING = "## Alerts: runbook"

# Labels the scrape adds to every series: `job` and `instance` by Prometheus itself (Compose),
# the rest by the Prometheus Operator's ServiceMonitor targets (Kubernetes).
TARGET_LABELS = frozenset(
    {"job", "instance", "namespace", "pod", "service", "container", "endpoint"}
)


@dataclass(frozen=True)
class External:
    labels: frozenset[str]
    why: str


# The only series not exported by taskboard that a rule or panel may name.
EXTERNAL: dict[str, External] = {
    "up": External(frozenset(), "Prometheus' own: whether a scrape of a target succeeded"),
    "ALERTS": External(
        frozenset({"alertname", "alertstate", "severity"}), "Prometheus' own: firing alerts"
    ),
    "kube_deployment_spec_replicas": External(
        frozenset({"deployment"}), "kube-state-metrics: replicas a Deployment asks for"
    ),
    "kube_deployment_status_replicas_available": External(
        frozenset({"deployment"}), "kube-state-metrics: a Deployment's ready replicas"
    ),
    "kube_deployment_status_replicas_unavailable": External(
        frozenset({"deployment"}), "kube-state-metrics: a Deployment's replicas not ready"
    ),
    "kube_job_failed": External(
        frozenset({"job_name", "condition", "reason"}), "kube-state-metrics: a Job failed"
    ),
}

# What a counter, histogram... family of that name exposes (prometheus_client's exposition).
SUFFIXES: dict[str, tuple[str, ...]] = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
}


@dataclass(frozen=True)
class Exported:
    """A series name the application exposes, the labels it carries, and whether /metrics
    still shows it when a pod runs several processes (PROMETHEUS_MULTIPROC_DIR: the api with
    TASKBOARD_WEB_CONCURRENCY > 1, the worker with TASKBOARD_WORKER_PROCESSES > 1). There
    prometheus_client serves only what MultiProcessCollector merges from its files: no
    `_created` series and none of the default process_*/python_* collectors."""

    labels: frozenset[str]
    in_multiprocess: bool


def _import_every_module() -> list[ModuleType]:
    modules = []
    for info in pkgutil.walk_packages(taskboard.__path__, "taskboard."):
        # Alembic's scripts run only inside Alembic (env.py reads alembic.context.config).
        if info.name.startswith("taskboard.migrations."):
            continue
        modules.append(importlib.import_module(info.name))
    return modules


def _registries(modules: list[ModuleType]) -> list[CollectorRegistry]:
    """The default registry, and any other one a module of the application keeps (none
    today: the multiprocess registries are made per scrape)."""
    others = {
        id(value): value
        for module in modules
        for value in vars(module).values()
        if isinstance(value, CollectorRegistry) and value is not prometheus_client.REGISTRY
    }
    return [prometheus_client.REGISTRY, *others.values()]


def _collectors(registry: CollectorRegistry) -> list[Collector]:
    # prometheus_client has no public list of a registry's collectors; the label names of a
    # metric without children yet are only on its collector.
    return list(getattr(registry, "_collector_to_names", {}))


@cache
def exported_metrics() -> dict[str, Exported]:
    modules = _import_every_module()
    defaults = {
        id(prometheus_client.PROCESS_COLLECTOR),
        id(prometheus_client.PLATFORM_COLLECTOR),
        id(prometheus_client.GC_COLLECTOR),
    }
    series: dict[str, Exported] = {}
    for registry in _registries(modules):
        for collector in _collectors(registry):
            labels = frozenset(getattr(collector, "_labelnames", ()))
            for family in collector.collect():
                for suffix in SUFFIXES[family.type]:
                    name = family.name + suffix
                    extra = {"le"} if suffix == "_bucket" else set()
                    extra |= {label for s in family.samples if s.name == name for label in s.labels}
                    series[name] = Exported(
                        labels=labels | extra,
                        in_multiprocess=id(collector) not in defaults and suffix != "_created",
                    )
    return series


# --- PromQL ---------------------------------------------------------------------------------

Node = Any  # promql_parser's node classes share no useful base for typing


def walk(expr: Node) -> Iterator[Node]:
    nodes: list[Node] = []
    promql_parser.walk(expr, lambda node: nodes.append(node))
    yield from nodes


def selector_name(selector: Node) -> str | None:
    if selector.name:
        return str(selector.name)
    for matcher in selector.matchers.matchers:
        if matcher.name == "__name__" and matcher.op == promql_parser.MatchOp.Equal:
            return str(matcher.value)
    return None


def series_labels(name: str) -> frozenset[str] | None:
    if name in EXTERNAL:
        return EXTERNAL[name].labels | TARGET_LABELS
    exported = exported_metrics().get(name)
    return exported.labels | TARGET_LABELS if exported else None


def metric_problems(expr: Node) -> list[str]:
    """Every series the expression selects is exported (by name, never by a regex on
    `__name__`), by every process layout, with the labels its matchers name."""
    problems: list[str] = []
    for node in walk(expr):
        if not isinstance(node, promql_parser.VectorSelector):
            continue
        name = selector_name(node)
        if name is None or node.matchers.or_matchers:
            problems.append(f"{node}: name the metric itself (a regex cannot be checked)")
            continue
        exported = exported_metrics().get(name)
        if exported is None and name not in EXTERNAL:
            problems.append(f"{name}: the application exports no such metric")
            continue
        if exported is not None and not exported.in_multiprocess:
            problems.append(f"{name}: absent from /metrics when a pod runs several processes")
            continue
        allowed = series_labels(name) or frozenset()
        for matcher in node.matchers.matchers:
            if matcher.name != "__name__" and matcher.name not in allowed:
                problems.append(f"{name} has no label {matcher.name!r}")
    return problems


@dataclass(frozen=True)
class Shape:
    """What an expression returns: a scalar, or a vector whose series carry `labels`
    (None: not known, e.g. after absent())."""

    scalar: bool
    labels: frozenset[str] | None


SCALAR = Shape(scalar=True, labels=frozenset())
SCALAR_FUNCTIONS = {"time", "scalar", "pi", "minute", "hour", "day_of_week", "day_of_month"}


def shape(node: Node) -> Shape:
    if isinstance(node, promql_parser.NumberLiteral | promql_parser.StringLiteral):
        return SCALAR
    if isinstance(node, promql_parser.VectorSelector):
        name = selector_name(node)
        return Shape(scalar=False, labels=series_labels(name) if name else None)
    if isinstance(node, promql_parser.MatrixSelector):
        return shape(node.vector_selector)
    if isinstance(node, promql_parser.SubqueryExpr | promql_parser.ParenExpr):
        return shape(node.expr)
    if isinstance(node, promql_parser.UnaryExpr):
        return shape(node.expr)
    if isinstance(node, promql_parser.Call):
        return _call_shape(node)
    if isinstance(node, promql_parser.AggregateExpr):
        return _aggregate_shape(node)
    if isinstance(node, promql_parser.BinaryExpr):
        return _binary_shape(node)
    return Shape(scalar=False, labels=None)


def _call_shape(node: Node) -> Shape:
    name = node.func.name
    if name in SCALAR_FUNCTIONS:
        return SCALAR
    if name == "vector":
        return Shape(scalar=False, labels=frozenset())
    if name in {"absent", "absent_over_time"}:
        return Shape(scalar=False, labels=None)
    vectors = [shape(arg) for arg in node.args if not _literal(arg)]
    inner = vectors[0] if vectors else Shape(scalar=False, labels=None)
    labels = inner.labels
    if labels is not None and name == "histogram_quantile":
        labels = labels - {"le"}
    if labels is not None and name in {"label_replace", "label_join"}:
        labels = labels | {str(node.args[1].val)}
    return Shape(scalar=False, labels=labels)


def _literal(node: Node) -> bool:
    return isinstance(node, promql_parser.NumberLiteral | promql_parser.StringLiteral)


def _aggregate_shape(node: Node) -> Shape:
    inner = shape(node.expr)
    op = str(node.op)
    modifier = node.modifier
    if op in {"topk", "bottomk", "limitk", "limit_ratio"}:
        return Shape(scalar=False, labels=inner.labels)
    if modifier is None:
        kept: frozenset[str] | None = frozenset()
    elif modifier.type == promql_parser.AggModifierType.By:
        kept = frozenset(modifier.labels)
    else:
        kept = None if inner.labels is None else inner.labels - set(modifier.labels)
    if op == "count_values" and kept is not None:
        kept = kept | {str(node.param.val)}
    return Shape(scalar=False, labels=kept)


def _binary_shape(node: Node) -> Shape:
    """Prometheus' own rules: set operators keep the left side's series; a scalar side
    leaves the other side's labels; one-to-one matching `on` keeps only those labels and
    `ignoring` drops its; group_left/right keep the many side's labels plus the named ones."""
    lhs, rhs = shape(node.lhs), shape(node.rhs)
    op = str(node.op)
    if lhs.scalar and rhs.scalar:
        return SCALAR
    if op in {"and", "unless"}:
        return lhs
    if op == "or":
        if lhs.labels is None or rhs.labels is None:
            return Shape(scalar=False, labels=None)
        return Shape(scalar=False, labels=lhs.labels | rhs.labels)
    if lhs.scalar or rhs.scalar:
        return rhs if lhs.scalar else lhs
    modifier = node.modifier
    matching = modifier.matching if modifier is not None else None
    card = modifier.card if modifier is not None else None
    one_to_many = card == promql_parser.VectorMatchCardinality.OneToMany
    many = rhs if one_to_many else lhs
    if many.labels is None:
        return many
    if one_to_many or card == promql_parser.VectorMatchCardinality.ManyToOne:
        return Shape(scalar=False, labels=many.labels | set(modifier.group_labels))
    if matching is None:
        return many
    if matching.type == promql_parser.LabelModifierType.Include:
        return Shape(scalar=False, labels=frozenset(matching.labels))
    return Shape(scalar=False, labels=many.labels - set(matching.labels))


def parse(expr: str) -> tuple[Node | None, list[str]]:
    try:
        return promql_parser.parse(expr), []
    except (ValueError, TypeError) as exc:
        return None, [f"does not parse: {exc}: {expr}"]


# --- Alert rules ----------------------------------------------------------------------------

SEVERITIES = {"critical", "warning", "info"}
RULE_KEYS = {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}
TEMPLATE_LABEL = re.compile(r"\$labels\.([A-Za-z_][A-Za-z0-9_]*)")
SETTING = re.compile(r"\bTASKBOARD_[A-Z0-9_]+\b")


def settings_names() -> set[str]:
    return {f"TASKBOARD_{name.upper()}" for name in Settings.model_fields}


def duration(text: object) -> timedelta | None:
    try:
        value = promql_parser.parse_duration(str(text))
    except (ValueError, TypeError):
        return None
    return value if isinstance(value, timedelta) else None


def rule_problems(rule: dict[str, Any]) -> list[str]:
    name = rule.get("alert")
    if not isinstance(name, str) or not re.fullmatch(r"Taskboard[A-Z][A-Za-z0-9]+", name):
        return [f"{name!r}: alerts are named Taskboard<Something> (letters and digits only)"]
    problems = [f"{name}: unknown key {key!r}" for key in sorted(set(rule) - RULE_KEYS)]
    for_ = duration(rule.get("for"))
    if for_ is None or for_ <= timedelta(0):
        problems.append(f"{name}: needs a `for` duration, so one bad scrape does not page")
    severity = (rule.get("labels") or {}).get("severity")
    if severity not in SEVERITIES:
        problems.append(f"{name}: severity {severity!r} is not one of {sorted(SEVERITIES)}")
    annotations = rule.get("annotations") or {}
    for key in ("summary", "description"):
        if not str(annotations.get(key) or "").strip():
            problems.append(f"{name}: no {key}")
    if "runbook_url" in annotations:
        problems.append(f"{name}: the chart sets runbook_url from its own base")
    text = " ".join(str(value) for value in annotations.values())
    if text.count("{{") != text.count("}}"):
        problems.append(f"{name}: unbalanced {{{{ }}}} in the annotations")
    problems += [
        f"{name}: {setting} is no setting of the application"
        for setting in sorted(set(SETTING.findall(text)) - settings_names())
    ]
    tree, errors = parse(str(rule.get("expr", "")))
    if tree is None:
        return [*problems, *(f"{name}: {error}" for error in errors)]
    problems += [f"{name}: {problem}" for problem in metric_problems(tree)]
    result = shape(tree)
    if result.scalar:
        problems.append(f"{name}: the expression is a scalar; an alert needs a vector")
    elif result.labels is not None:
        problems += [
            f"{name}: the annotations name $labels.{label}, which the expression drops"
            for label in sorted(set(TEMPLATE_LABEL.findall(text)) - result.labels)
        ]
    return problems


def rules_problems(document: Any) -> list[str]:
    if not isinstance(document, dict) or set(document) != {"groups"}:
        return ["a rule file is one mapping with `groups` only (the chart reads it with fromYaml)"]
    problems: list[str] = []
    groups = [g.get("name") for g in document["groups"]]
    if len(groups) != len(set(groups)) or not all(groups):
        problems.append(f"group names must be set and unique: {groups}")
    names = [rule.get("alert") for group in document["groups"] for rule in group["rules"]]
    problems += [f"{n}: defined twice" for n in sorted({n for n in names if names.count(n) > 1})]
    for group in document["groups"]:
        for rule in group["rules"]:
            problems += rule_problems(rule)
    return problems


def load_rules() -> dict[str, Any]:
    document = yaml.safe_load(RULES.read_text())
    assert isinstance(document, dict)
    return document


def alert_names(document: dict[str, Any]) -> list[str]:
    return [rule["alert"] for group in document["groups"] for rule in group["rules"]]


# --- Dashboards -----------------------------------------------------------------------------

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
VARIABLE = re.compile(
    r"\$\{(?P<braced>\w+)(?::\w+)?\}|\[\[(?P<bracketed>\w+)(?::\w+)?\]\]|\$(?P<plain>\w+)"
)
# Grafana's own, standing for a duration in a range selector.
DURATION_VARIABLES = {"__rate_interval", "__interval", "__range", "__auto"}
LEGEND_LABEL = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# "*Panel* on *taskboard / Dashboard*", or "*A*, *B* and *C* on *taskboard / Dashboard*".
PANEL_REFERENCE = re.compile(r"((?:\*[^*]+\*(?:, | and ))*\*[^*]+\*) on \*(taskboard / [^*]+)\*")


def panels(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in model.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # a collapsed row keeps its panels inside


def variables(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in model.get("templating", {}).get("list", [])}


def substitute(expr: str, defined: dict[str, dict[str, Any]]) -> tuple[str, list[str]]:
    """Grafana's variables replaced as Grafana would before the query reaches Prometheus: a
    duration for the interval variables, a regex for the dashboard's own (which may only
    stand inside a =~ or !~ matcher: their multi-value and All forms are regexes)."""
    problems: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match["braced"] or match["bracketed"] or match["plain"]
        if name in DURATION_VARIABLES:
            return "5m"
        if name not in defined:
            problems.append(f"${name} is not defined in the dashboard")
            return match[0]
        before = expr[: match.start()]
        if not re.search(r'[=!]~\s*"[^"]*$', before):
            problems.append(f"${name} stands outside a =~ or !~ matcher")
        return ".*"

    return VARIABLE.sub(replace, expr), problems


def expression_problems(
    where: str, expr: str, defined: dict[str, dict[str, Any]], legend: str = ""
) -> list[str]:
    text, problems = substitute(expr, defined)
    tree, errors = parse(text)
    problems += errors
    if tree is not None:
        problems += metric_problems(tree)
        result = shape(tree)
        if result.labels is not None:
            problems += [
                f"the legend names {{{{{label}}}}}, which the expression drops"
                for label in sorted(set(LEGEND_LABEL.findall(legend)) - result.labels)
            ]
    return [f"{where}: {problem}" for problem in problems]


def variable_query(variable: dict[str, Any]) -> str:
    query = variable.get("query")
    return str(query.get("query", "") if isinstance(query, dict) else query or "")


def dashboard_problems(model: Any, stem: str) -> list[str]:
    if not isinstance(model, dict):
        return ["a dashboard is a JSON object"]
    problems: list[str] = []
    if model.get("uid") != stem or not re.fullmatch(r"[a-z0-9-]{1,40}", stem):
        problems.append(f"uid {model.get('uid')!r}: the file's stem, stable (<= 40 characters)")
    if model.get("id") is not None:
        problems.append("id must be null: Grafana gives its own")
    if not isinstance(model.get("schemaVersion"), int) or model["schemaVersion"] < 39:
        problems.append(f"schemaVersion {model.get('schemaVersion')!r} is below 39")
    if not str(model.get("title", "")).startswith("taskboard / "):
        problems.append(f"title {model.get('title')!r}: runbook references use 'taskboard / ...'")
    if "__inputs" in model or "${DS_" in json.dumps(model):
        problems.append("import placeholders (__inputs, ${DS_...}) need the import wizard")
    defined = variables(model)
    source = defined.get("datasource", {})
    if source.get("type") != "datasource" or source.get("query") != "prometheus":
        problems.append("no `datasource` variable of type datasource for prometheus")
    for name, variable in defined.items():
        if variable.get("type") != "query":
            continue
        if variable.get("datasource") != DATASOURCE:
            problems.append(f"variable {name}: datasource is not ${{datasource}}")
        query = variable_query(variable)
        inner = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query)
        if inner is None:
            problems.append(f"variable {name}: {query!r} is not label_values(<series>, <label>)")
            continue
        others = {k: v for k, v in defined.items() if k != name}
        problems += expression_problems(f"variable {name}", inner[1], others, f"{{{{{inner[2]}}}}}")
    ids = [panel.get("id") for panel in panels(model)]
    if len(ids) != len(set(ids)):
        problems.append(f"panel ids repeat: {ids}")
    for panel in panels(model):
        title = panel.get("title", "")
        if panel.get("type") == "row":
            continue
        position = panel.get("gridPos", {})
        if position.get("x", 0) + position.get("w", 0) > 24:
            problems.append(f"panel {title!r}: wider than the grid")
        if panel.get("datasource") != DATASOURCE:
            problems.append(f"panel {title!r}: datasource is not ${{datasource}}")
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"panel {title!r}: no query")
        refs = [t.get("refId") for t in targets]
        if len(refs) != len(set(refs)) or not all(refs):
            problems.append(f"panel {title!r}: refIds must be set and unique: {refs}")
        for target in targets:
            where = f"panel {title!r} {target.get('refId')}"
            if target.get("datasource") != DATASOURCE:
                problems.append(f"{where}: datasource is not ${{datasource}}")
            problems += expression_problems(
                where, str(target.get("expr", "")), defined, str(target.get("legendFormat", ""))
            )
    return problems


def load_dashboards() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


# --- Runbook --------------------------------------------------------------------------------


def github_anchor(heading: str) -> str:
    """The fragment GitHub (and most Markdown renderers) give a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def runbook_entries(markdown: str) -> tuple[dict[str, str], list[str]]:
    """The runbook's entries by heading, and what is wrong with the section's place."""
    problems: list[str] = []
    sections = re.split(r"(?m)^(?=## )", markdown)
    runbook = [s for s in sections if s.startswith(RUNBOOK_HEADING + "\n")]
    if len(runbook) != 1:
        return {}, [f"docs/operations.md needs one {RUNBOOK_HEADING!r} section"]
    entries: dict[str, str] = {}
    for part in re.split(r"(?m)^(?=### )", runbook[0])[1:]:
        heading, _, body = part.partition("\n")
        title = heading.removeprefix("### ").strip()
        if title in entries:
            problems.append(f"{title}: two entries")
        entries[title] = body
    return entries, problems


ENTRY_PARTS = ("**Means.**", "**Check first.**", "**Fix.**")


def runbook_problems(
    markdown: str, alerts: dict[str, dict[str, Any]], dashboards: dict[str, dict[str, Any]]
) -> list[str]:
    entries, problems = runbook_entries(markdown)
    titles = {
        model["title"]: {p.get("title") for p in panels(model)} for model in dashboards.values()
    }
    problems += [f"{name}: no runbook entry" for name in sorted(set(alerts) - set(entries))]
    problems += [f"{title}: an entry for no alert" for title in sorted(set(entries) - set(alerts))]
    for title, body in entries.items():
        if github_anchor(title) != title.lower():
            problems.append(f"{title}: the anchor would be #{github_anchor(title)}")
        problems += [f"{title}: no {part} paragraph" for part in ENTRY_PARTS if part not in body]
        flat = " ".join(body.split())
        references = PANEL_REFERENCE.findall(flat)
        # Italics are panel references only, so none escapes the check above.
        prose = PANEL_REFERENCE.sub("", re.sub(r"`[^`]*`|\*\*[^*]+\*\*", "", flat))
        problems += [
            f"{title}: {stray} names no dashboard (*Panel* on *taskboard / Dashboard*)"
            for stray in re.findall(r"\*[^*\s][^*]*\*", prose)
        ]
        for listed, dashboard in references:
            for panel in re.findall(r"\*([^*]+)\*", listed):
                if panel not in titles.get(dashboard, set()):
                    problems.append(f"{title}: no panel {panel!r} on {dashboard!r}")
        rule = alerts.get(title)
        if rule is not None and not references and _names_app_metrics(rule["expr"]):
            problems.append(f"{title}: point to the panel to look at (*Panel* on *Dashboard*)")
        problems += [
            f"{title}: {setting} is no setting of the application"
            for setting in sorted(set(SETTING.findall(body)) - settings_names())
        ]
        problems += [
            f"{title}: {metric} is not exported"
            for metric in sorted(set(re.findall(r"\btaskboard_[a-z0-9_]+", body)))
            if metric not in exported_metrics()
        ]
    return problems


def _names_app_metrics(expr: str) -> bool:
    tree, _ = parse(expr)
    return tree is not None and any(
        selector_name(node) in exported_metrics()
        for node in walk(tree)
        if isinstance(node, promql_parser.VectorSelector)
    )


def rules_by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for group in document["groups"] for rule in group["rules"]}


# --- The shipped files ----------------------------------------------------------------------


def test_the_registries_hold_the_applications_metrics() -> None:
    # The walk over the package found the metrics of every deployment, not just one module's.
    exported = exported_metrics()
    for name in (
        "taskboard_http_requests_total",
        "taskboard_http_request_duration_seconds_bucket",
        "taskboard_ws_commit_to_send_seconds_bucket",
        "taskboard_queue_depth",
        "taskboard_reminder_lateness_seconds_count",
        "taskboard_db_pool_checked_out",
    ):
        assert exported[name].in_multiprocess, name
    assert exported["taskboard_http_requests_total"].labels == {"route", "method", "status"}
    assert "le" in exported["taskboard_http_request_duration_seconds_bucket"].labels
    assert not exported["taskboard_http_requests_created"].in_multiprocess
    assert not exported["python_gc_objects_collected_total"].in_multiprocess


def test_every_alert_rule_is_complete_and_names_exported_metrics() -> None:
    document = load_rules()
    assert rules_problems(document) == []
    # The alerts issue 13 asks for, by what they watch.
    watched = {name: str(rule["expr"]) for name, rule in rules_by_name(document).items()}
    for metric in (
        'taskboard_http_requests_total{status=~"5.."',
        "taskboard_http_request_duration_seconds_bucket",
        "taskboard_ws_commit_to_send_seconds_bucket",
        "taskboard_ws_stream_lag_entries",
        "taskboard_notifier_lag_seconds",
        "taskboard_reminder_lateness_seconds_bucket",
        "taskboard_dead_letters",
        "taskboard_queue_dead_letters",
        "taskboard_queue_depth",
        "kube_deployment_status_replicas_unavailable",
    ):
        assert any(metric in expr for expr in watched.values()), metric


def test_the_chart_can_read_the_rule_file_as_it_is() -> None:
    # One YAML document of plain mappings: what `.Files.Get | fromYaml` turns into a
    # PrometheusRule's spec, with Prometheus' {{ }} templates left as text.
    documents = list(yaml.safe_load_all(RULES.read_text()))
    assert len(documents) == 1
    assert yaml.safe_load(yaml.safe_dump(documents[0])) == documents[0]


def test_every_dashboard_imports_as_it_is_and_queries_exported_metrics() -> None:
    dashboards = load_dashboards()
    assert set(dashboards) == {
        "taskboard-requests",
        "taskboard-realtime",
        "taskboard-worker",
        "taskboard-database",
    }
    for stem, model in dashboards.items():
        assert dashboard_problems(model, stem) == [], stem
        # A ConfigMap holds it whole, and `kubectl apply` (kustomize) keeps a copy in an
        # annotation limited to 256 KiB.
        assert (DASHBOARDS / f"{stem}.json").stat().st_size < 200_000, stem


def test_the_dashboards_show_what_the_issue_asks_for() -> None:
    queries = {
        stem: " ".join(
            str(t.get("expr")) for panel in panels(model) for t in panel.get("targets", [])
        )
        for stem, model in load_dashboards().items()
    }
    wanted = {
        "taskboard-requests": ["taskboard_http_requests_total", "_duration_seconds_bucket"],
        "taskboard-realtime": ["taskboard_ws_connections", "taskboard_ws_commit_to_send_seconds"],
        "taskboard-worker": ["taskboard_queue_depth", "taskboard_reminder_lateness_seconds"],
        "taskboard-database": ["taskboard_db_pool_checked_out", "taskboard_db_pool_size"],
    }
    for stem, metrics in wanted.items():
        for metric in metrics:
            assert metric in queries[stem], (stem, metric)
    assert "by (route" in queries["taskboard-requests"]


def test_every_alert_has_its_runbook_entry() -> None:
    problems = runbook_problems(
        OPERATIONS.read_text(), rules_by_name(load_rules()), load_dashboards()
    )
    assert problems == []


# The chart's required values, and its monitoring objects switched on.
CHART_VALUES: dict[str, Any] = {
    "externalDatabase": {"url": "postgresql://taskboard:secret@postgres:5432/taskboard"},
    "externalRedis": {"url": "redis://redis:6379/0"},
    "secretKey": "k" * 48,
    "metrics": {
        "prometheusRule": {"enabled": True},
        "serviceMonitor": {"enabled": True},
        "dashboards": {"enabled": True},
    },
}


def name_selectors(document: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(alert, label, regex) for every regex matcher on the label naming a Kubernetes object."""
    for name, rule in rules_by_name(document).items():
        for node in walk(promql_parser.parse(str(rule["expr"]))):
            if isinstance(node, promql_parser.VectorSelector):
                for matcher in node.matchers.matchers:
                    if matcher.name in {"deployment", "job_name", "job"}:
                        assert matcher.op == promql_parser.MatchOp.Re, (name, matcher.name)
                        yield name, matcher.name, str(matcher.value)


def scrape_jobs(objects: list[dict[str, Any]]) -> list[str]:
    """The `job` label of each ServiceMonitor's targets: the name of the Service it selects."""
    jobs = []
    for monitor in all_of(objects, "ServiceMonitor"):
        wanted = monitor["spec"]["selector"]["matchLabels"].items()
        jobs += [
            service["metadata"]["name"]
            for service in all_of(objects, "Service")
            if wanted <= service["metadata"].get("labels", {}).items()
        ]
    return jobs


def test_the_alerts_find_what_the_chart_and_kustomize_deploy() -> None:
    """The kube-state-metrics and `up` alerts select by object name: those names are the
    chart's and kustomize's. And the chart's runbook links land on the runbook's entries."""
    document = load_rules()
    objects = render_chart(CHART_VALUES)
    rendered = find(objects, "PrometheusRule")["spec"]["groups"]
    anchors = {github_anchor(title) for title in runbook_entries(OPERATIONS.read_text())[0]}
    links = {
        rule["alert"]: rule["annotations"]["runbook_url"].partition("#")[2]
        for group in rendered
        for rule in group["rules"]
    }
    assert set(links) == set(alert_names(document))
    assert set(links.values()) <= anchors
    assert scrape_jobs(objects) != []
    for objects_of in ("chart", "kustomize"):
        deployed = (
            objects if objects_of == "chart" else kustomize_build(KUSTOMIZE / "overlays" / "prod")
        )
        names = {
            "deployment": [o["metadata"]["name"] for o in all_of(deployed, "Deployment")],
            "job_name": [o["metadata"]["name"] for o in all_of(deployed, "Job")],
        }
        if objects_of == "chart":
            names["job"] = scrape_jobs(deployed)
        for alert, label, regex in name_selectors(document):
            found = names.get(label)
            if found is None:
                continue
            assert found, (objects_of, label)
            # Prometheus anchors its regexes at both ends, as fullmatch does.
            assert all(re.fullmatch(regex, name) for name in found), (alert, objects_of, found)


# --- Each check refuses what it must --------------------------------------------------------


def first_rule(document: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = document["groups"][0]["rules"][0]
    return rule


def set_expr(expr: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        first_rule(document)["expr"] = expr

    return change


def drop(key: str, inside: str | None = None) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        rule = first_rule(document)
        (rule[inside] if inside else rule).pop(key)

    return change


def set_annotation(text: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        first_rule(document)["annotations"]["description"] = text

    return change


BROKEN_RULES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "unknown metric": (set_expr("rate(taskboard_no_such_thing_total[5m]) > 0"), "no such metric"),
    "counter without _total": (
        set_expr("rate(taskboard_http_requests[5m]) > 0"),
        "no such metric",
    ),
    "_created series": (
        set_expr("taskboard_http_requests_created > 0"),
        "several processes",
    ),
    "process collector": (
        set_expr("rate(process_cpu_seconds_total[5m]) > 1"),
        "several processes",
    ),
    "external not allowed": (set_expr("kube_pod_info > 0"), "no such metric"),
    "name by regex": (set_expr('{__name__=~"taskboard_.*"} > 0'), "regex cannot be checked"),
    "label it lacks": (set_expr('taskboard_queue_depth{queues="email"} > 1'), "no label"),
    "does not parse": (set_expr("sum(rate(taskboard_http_requests_total[5m]) > "), "parse"),
    "scalar": (set_expr("time() > 0"), "scalar"),
    "no for": (drop("for"), "`for`"),
    "zero for": (lambda d: first_rule(d).update({"for": "0s"}), "`for`"),
    "no severity": (drop("severity", "labels"), "severity"),
    "odd severity": (
        lambda d: first_rule(d)["labels"].update({"severity": "page"}),
        "severity",
    ),
    "no summary": (drop("summary", "annotations"), "no summary"),
    "label aggregated away": (set_annotation("{{ $labels.route }} fails"), "$labels.route"),
    "unknown setting": (set_annotation("raise TASKBOARD_NO_SUCH_THING"), "no setting"),
    "runbook_url": (
        lambda d: first_rule(d)["annotations"].update({"runbook_url": "https://x"}),
        "runbook_url",
    ),
    "bad name": (lambda d: first_rule(d).update({"alert": "high errors"}), "named Taskboard"),
    "duplicate": (
        lambda d: d["groups"][0]["rules"].append(copy.deepcopy(first_rule(d))),
        "defined twice",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_RULES))
def test_a_broken_rule_is_refused(case: str) -> None:
    change, expected = BROKEN_RULES[case]
    document = copy.deepcopy(load_rules())
    change(document)
    problems = rules_problems(document)
    assert any(expected in problem for problem in problems), problems


def test_a_label_kept_by_the_aggregation_is_accepted() -> None:
    # The label check follows PromQL's own rules rather than refusing every $labels use.
    tree = promql_parser.parse(
        "max by (namespace, queue) (taskboard_queue_depth) > 0 and on (namespace) "
        "sum by (namespace) (rate(taskboard_actor_runs_total[5m])) == 0"
    )
    assert shape(tree).labels == frozenset({"namespace", "queue"})
    tree = promql_parser.parse("taskboard_db_pool_checked_out / on (pod) taskboard_db_pool_size")
    assert shape(tree).labels == frozenset({"pod"})
    tree = promql_parser.parse(
        "histogram_quantile(0.9, sum by (le, route) (rate("
        "taskboard_http_request_duration_seconds_bucket[5m])))"
    )
    assert shape(tree).labels == frozenset({"route"})


def some_target(model: dict[str, Any]) -> dict[str, Any]:
    panel = next(p for p in panels(model) if p.get("targets"))
    target: dict[str, Any] = panel["targets"][0]
    return target


def some_panel(model: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in panels(model) if p.get("targets"))


def set_target(**values: str) -> Callable[[dict[str, Any]], None]:
    return lambda model: some_target(model).update(values)


BROKEN_DASHBOARDS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "fixed datasource": (
        lambda m: some_panel(m).update({"datasource": {"type": "prometheus", "uid": "prom"}}),
        "datasource is not",
    ),
    "target's datasource": (lambda m: some_target(m).pop("datasource"), "datasource is not"),
    "no datasource variable": (
        lambda m: m["templating"].update(
            {"list": [v for v in m["templating"]["list"] if v["name"] != "datasource"]}
        ),
        "no `datasource` variable",
    ),
    "unknown metric": (set_target(expr="sum(rate(taskboard_nope_total[5m]))"), "no such metric"),
    "undefined variable": (
        set_target(expr='sum(taskboard_queue_depth{pod=~"$pod"})'),
        "$pod is not defined",
    ),
    "variable outside a regex matcher": (
        set_target(expr='sum(taskboard_queue_depth{namespace="$namespace"})'),
        "outside a =~",
    ),
    "legend label dropped": (
        set_target(expr="sum(taskboard_db_pool_size)", legendFormat="{{pod}}"),
        "legend names {{pod}}",
    ),
    "does not parse": (set_target(expr="sum(taskboard_db_pool_size"), "does not parse"),
    "old schema": (lambda m: m.update({"schemaVersion": 30}), "schemaVersion"),
    "uid changed": (lambda m: m.update({"uid": "abc123"}), "uid"),
    "import placeholders": (
        lambda m: some_panel(m).update({"datasource": "${DS_PROMETHEUS}"}),
        "import placeholders",
    ),
    "variable on an unknown metric": (
        lambda m: variables(m)["namespace"].update(
            {"query": {"query": "label_values(taskboard_nope, namespace)"}}
        ),
        "no such metric",
    ),
    "duplicate panel id": (
        lambda m: m["panels"].append(copy.deepcopy(some_panel(m))),
        "panel ids repeat",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_DASHBOARDS))
def test_a_broken_dashboard_is_refused(case: str) -> None:
    change, expected = BROKEN_DASHBOARDS[case]
    stem, model = next(iter(load_dashboards().items()))
    model = copy.deepcopy(model)
    change(model)
    problems = dashboard_problems(model, stem)
    assert any(expected in problem for problem in problems), problems


def test_a_dashboard_that_is_no_json_object_is_refused() -> None:
    assert dashboard_problems([], "taskboard-requests") != []


BROKEN_RUNBOOKS: dict[str, tuple[Callable[[str], str], str]] = {
    "entry missing": (
        lambda md: md.replace("### TaskboardHighErrorRate\n", "### TaskboardHighErrorRates\n"),
        "TaskboardHighErrorRate: no runbook entry",
    ),
    "heading with a different anchor": (
        lambda md: md.replace("### TaskboardHighErrorRate\n", "### TaskboardHighErrorRate!\n"),
        "no runbook entry",
    ),
    "panel that does not exist": (
        lambda md: md.replace("on *taskboard / Requests*", "on *taskboard / Requestz*", 1),
        "no panel",
    ),
    "panel listed first that does not exist": (
        lambda md: md.replace(
            "*Notifier lag*, *Notifier pending", "*Notifier lagz*, *Notifier pending"
        ),
        "no panel 'Notifier lagz'",
    ),
    "italic that is no reference": (
        lambda md: md.replace("**Means.**", "**Means.** See *Queue depth*.", 1),
        "names no dashboard",
    ),
    "no fix": (
        lambda md: md.replace("**Fix.**", "**Fixes.**", 1),
        "no **Fix.** paragraph",
    ),
    "no section": (lambda md: md.replace(RUNBOOK_HEADING, "## Alerts"), "needs one"),
    "unknown metric": (
        lambda md: md.replace("**Means.**", "**Means.** `taskboard_nope_total` says", 1),
        "taskboard_nope_total is not exported",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_RUNBOOKS))
def test_a_broken_runbook_is_refused(case: str) -> None:
    change, expected = BROKEN_RUNBOOKS[case]
    markdown = OPERATIONS.read_text()
    changed = change(markdown)
    assert changed != markdown
    problems = runbook_problems(changed, rules_by_name(load_rules()), load_dashboards())
    assert any(expected in problem for problem in problems), problems


def test_headings_get_the_anchor_the_chart_links_to() -> None:
    assert github_anchor("TaskboardHighErrorRate") == "taskboardhigherrorrate"
    assert github_anchor("Alerts: runbook") == "alerts-runbook"
    assert all(github_anchor(name) == name.lower() for name in alert_names(load_rules()))


def test_exported_names_come_from_the_registry_not_a_list() -> None:
    # A metric registered now is known at once: the names are read, never written down.
    name = "taskboard_test_observability_probe"
    probe = prometheus_client.Counter(name, "a metric only this test defines", ["flavour"])
    try:
        exported_metrics.cache_clear()
        tree = promql_parser.parse(f'rate({name}_total{{flavour="x"}}[5m])')
        assert metric_problems(tree) == []
    finally:
        prometheus_client.REGISTRY.unregister(probe)
        exported_metrics.cache_clear()
    assert metric_problems(tree) != []
