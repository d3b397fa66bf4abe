"""docker-compose.yml: valid against the Compose specification's schema (vendored in
tests/deploy/schemas/, see its README), and running what the application and the chart run.

No Docker engine here: the file is read as Compose reads it (YAML anchors and merge keys,
then `${VAR:-default}` interpolation with an empty environment), and its parts are checked
against the application itself: the one image and its commands (the real argument parser),
the start order, the settings (loaded by the real Settings), the health checks and grace
periods, the gateway's nginx configuration (parsed, and asked where each path goes, following
nginx's own location rules and directive inheritance), and the observability profile's
Prometheus and Grafana configuration, which must load the chart's rules and dashboards.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from taskboard.cli import build_parser
from taskboard.core.config import Settings, storage_location
from tests.deploy.tooling import CHART, ROOT

COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = json.loads((Path(__file__).parent / "schemas" / "compose-spec.json").read_text())
ROLES = {"migrate": "migrate", "api": "api", "realtime": "realtime", "worker": "worker"}
SERVING = ("api", "realtime", "worker")
OBSERVABILITY = ("otel-collector", "prometheus", "grafana")
DEFAULTS = Settings.model_fields


def _default(name: str) -> Any:
    return DEFAULTS[name].default


# --- reading the file as Compose does ------------------------------------------------------

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<op>:-|-|:\?|\?|:\+|\+)(?P<arg>[^}]*))?\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate_text(text: str, env: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["bare"]
        value, op, arg = env.get(name), match["op"], match["arg"]
        if op in (":-", "-"):
            unset = value is None or (op == ":-" and value == "")
            return interpolate_text(arg, env) if unset else str(value)
        if op in (":?", "?"):
            if value is None or (op == ":?" and value == ""):
                raise ValueError(f"${{{name}}} is required: {arg}")
            return value
        if op in (":+", "+"):
            present = value is not None and (op == "+" or value != "")
            return interpolate_text(arg, env) if present else ""
        return value or ""

    return _VARIABLE.sub(replace, text)


def interpolate(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate_text(node, env)
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    return node


def load_compose(text: str | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
    raw = yaml.safe_load(COMPOSE.read_text() if text is None else text)
    assert isinstance(raw, dict)
    compose: dict[str, Any] = interpolate(raw, env or {})
    return compose


def schema_errors(document: Any) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def command(service: dict[str, Any]) -> list[str]:
    value = service.get("command") or []
    return value.split() if isinstance(value, str) else [str(v) for v in value]


def duration_seconds(text: str) -> float:
    units = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)", text)
    assert parts, f"not a duration: {text!r}"
    assert "".join(a + u for a, u in parts) == text, f"not a duration: {text!r}"
    return sum(float(amount) * units[unit] for amount, unit in parts)


def short_volume(entry: str | dict[str, Any]) -> tuple[str, str]:
    if isinstance(entry, dict):
        return str(entry["source"]), str(entry["target"])
    source, target = entry.split(":")[:2]
    return source, target


def taskboard_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    built = {s["image"] for s in compose["services"].values() if "build" in s and "image" in s}
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("image") in built
    }


# --- the file against the specification ----------------------------------------------------


def test_the_compose_file_follows_the_specification() -> None:
    assert schema_errors(yaml.safe_load(COMPOSE.read_text())) == []
    assert schema_errors(load_compose()) == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # A condition Compose does not know.
        ("condition: service_completed_successfully", "condition: service_completed"),
        # A key no service has.
        ("stop_grace_period: 30s", "stop_grace: 30s"),
        # The wrong type.
        ("read_only: true", "read_only: [true]"),
        # A config with an unknown source key.
        ("  gateway:\n    content: |", "  gateway:\n    contents: |"),
        # An unknown top-level key (only x- extensions are free).
        ("x-healthz: &healthz", "healthz: &healthz"),
    ],
)
def test_a_broken_compose_file_fails_the_schema(old: str, new: str) -> None:
    text = COMPOSE.read_text()
    assert old in text, old
    broken = yaml.safe_load(text.replace(old, new, 1))
    assert schema_errors(broken), f"{old!r} -> {new!r} passed the schema"


# --- the application's image, commands and order -------------------------------------------


def test_every_taskboard_service_runs_the_one_image_with_its_command() -> None:
    compose = load_compose()
    services = taskboard_services(compose)
    assert set(services) == set(ROLES), sorted(services)
    images = {service["image"] for service in services.values()}
    assert len(images) == 1, images
    builders = [name for name, service in services.items() if "build" in service]
    assert builders == ["migrate"], "one service builds the image; the rest reuse it"
    build = services["migrate"]["build"]
    assert (ROOT / build["context"]).resolve() == ROOT
    assert (ROOT / build["context"] / build["dockerfile"]).resolve() == (
        ROOT / "services" / "Dockerfile"
    )
    parser = build_parser()
    for name, role in ROLES.items():
        args = parser.parse_args(command(services[name]))
        assert args.command == role, (name, command(services[name]))
        assert not getattr(args, "wait", False), "migrate migrates; it does not wait"


def test_the_migration_completes_before_anything_serves() -> None:
    compose = load_compose()
    services = compose["services"]
    for name in ("postgres", "redis"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no health check"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no", "a finished migration must stay finished"
    for name in SERVING:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
    for name in ("api", "realtime"):
        assert services["gateway"]["depends_on"][name]["condition"] == "service_healthy"


def test_every_taskboard_service_gets_valid_settings() -> None:
    """The settings each service is given load with the application's own Settings, and every
    required one is there (an empty environment: only the file's defaults)."""
    required = {f"TASKBOARD_{n.upper()}" for n, f in DEFAULTS.items() if f.is_required()}
    assert {"TASKBOARD_DATABASE_URL", "TASKBOARD_REDIS_URL", "TASKBOARD_SECRET_KEY"} <= required
    known = {f"TASKBOARD_{name.upper()}" for name in DEFAULTS}
    for name, service in taskboard_services(load_compose()).items():
        env = environment(service)
        assert required <= {k for k, v in env.items() if v}, (name, required - set(env))
        unknown = {k for k in env if k.startswith("TASKBOARD_")} - known
        assert not unknown, f"{name} sets settings the application does not have: {unknown}"
        # Validated as given: not mixed with this process's environment or a .env file.
        settings = Settings.model_validate(
            {k.removeprefix("TASKBOARD_").lower(): v for k, v in env.items() if v}
        )
        assert settings.database_url.startswith("postgresql://")
        # Served through the gateway: its forwarded headers are trusted, and only its.
        assert settings.forwarded_allow_ips not in ("", "*"), name


def test_settings_follow_the_environment() -> None:
    """What a developer overrides reaches every service (the published port and the public
    URL move together)."""
    compose = load_compose(env={"TASKBOARD_GATEWAY_PORT": "9000", "TASKBOARD_SECRET_KEY": "k" * 40})
    gateway_ports = compose["services"]["gateway"]["ports"]
    assert any(str(p).split(":")[-2] == "9000" for p in gateway_ports), gateway_ports
    for name, service in taskboard_services(compose).items():
        env = environment(service)
        assert env["TASKBOARD_PUBLIC_URL"] == "http://localhost:9000", name
        assert env["TASKBOARD_SECRET_KEY"] == "k" * 40, name


def test_storage_is_one_volume_shared_by_api_and_worker() -> None:
    compose = load_compose()
    services = taskboard_services(compose)
    url = environment(services["api"])["TASKBOARD_STORAGE_URL"]
    location = storage_location(url)
    assert location.kind == "local"
    assert location.path is not None
    mounts = {}
    for name in ("api", "worker"):
        env = environment(services[name])
        assert env["TASKBOARD_STORAGE_URL"] == url, name
        volumes = dict(short_volume(v)[::-1] for v in services[name].get("volumes", []))
        assert str(location.path) in volumes, f"{name} has no volume at {location.path}"
        mounts[name] = volumes[str(location.path)]
    assert mounts["api"] == mounts["worker"], mounts
    assert mounts["api"] in (compose.get("volumes") or {}), "a named volume, declared"


def test_health_checks_and_grace_periods_are_the_applications() -> None:
    services = taskboard_services(load_compose())
    port = _default("port")
    for name in SERVING:
        service = services[name]
        env = environment(service)
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD", f"{name}: exec form, no shell in the image"
        assert test[1] == "python", name
        urls = re.findall(r"https?://[^'\"\s]+", " ".join(test))
        assert urls == [f"http://127.0.0.1:{env.get('TASKBOARD_PORT', port)}/healthz"], urls
        if name == "worker":
            drain = float(
                env.get("TASKBOARD_WORKER_SHUTDOWN_TIMEOUT_SECONDS")
                or _default("worker_shutdown_timeout_seconds")
            )
        else:
            drain = float(
                env.get("TASKBOARD_GRACEFUL_TIMEOUT_SECONDS")
                or _default("graceful_timeout_seconds")
            )
        grace = duration_seconds(service["stop_grace_period"])
        assert grace > drain, f"{name}: stop_grace_period {grace}s, drain {drain}s"


def test_taskboard_containers_run_as_the_chart_runs_pods() -> None:
    for name, service in taskboard_services(load_compose()).items():
        assert service.get("read_only") is True, name
        # The container's /tmp (a tmpfs), the one place the application writes.
        assert "/tmp" in service.get("tmpfs", []), name  # noqa: S108
        assert service.get("cap_drop") == ["ALL"], name
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert not service.get("ports"), f"{name}: reached through the gateway only"


# --- the gateway ---------------------------------------------------------------------------


@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] | None = None


def _nginx_tokens(text: str) -> list[str]:
    tokens: list[str] = []
    for match in re.finditer(r"#[^\n]*|'[^']*'|\"[^\"]*\"|[{};]|[^\s{};'\"#]+", text):
        token = match.group()
        if not token.startswith("#"):
            tokens.append(token)
    return tokens


def parse_nginx(text: str) -> list[Directive]:
    tokens = _nginx_tokens(text)
    position = 0

    def block() -> list[Directive]:
        nonlocal position
        directives: list[Directive] = []
        while position < len(tokens):
            token = tokens[position]
            if token == "}":
                position += 1
                return directives
            words: list[str] = []
            while tokens[position] not in ("{", ";", "}"):
                words.append(tokens[position].strip("'\""))
                position += 1
            end = tokens[position]
            position += 1
            if end == "{":
                directives.append(Directive(words[0], words[1:], block()))
            elif end == ";":
                directives.append(Directive(words[0], words[1:]))
            else:
                raise ValueError(f"unexpected }} after {words}")
        return directives

    return block()


@dataclass
class Location:
    modifier: str
    uri: str
    directives: list[Directive]


@dataclass
class Server:
    directives: list[Directive]
    locations: list[Location] = field(default_factory=list)

    def values(self, location: Location, name: str) -> list[list[str]]:
        """A directive's effective values in a location: nginx inherits from the server
        level only what the location does not set itself (proxy_set_header included: one of
        its own and none of the server's apply)."""
        own = [d.args for d in location.directives if d.name == name]
        return own or [d.args for d in self.directives if d.name == name]

    def route(self, path: str) -> Location:
        """nginx's choice: an exact match; else the longest prefix, unless a regex (in order)
        matches and the prefix is not ^~."""
        for location in self.locations:
            if location.modifier == "=" and location.uri == path:
                return location
        prefixes = [
            loc for loc in self.locations if loc.modifier in ("", "^~") and path.startswith(loc.uri)
        ]
        longest = max(prefixes, key=lambda loc: len(loc.uri), default=None)
        if longest is not None and longest.modifier == "^~":
            return longest
        for location in self.locations:
            flags = re.IGNORECASE if location.modifier == "~*" else 0
            if location.modifier in ("~", "~*") and re.search(location.uri, path, flags):
                return location
        assert longest is not None, f"no location serves {path}"
        return longest

    def upstream(self, location: Location) -> str:
        """Where the location proxies to, `set` variables resolved."""
        variables = {
            d.args[0]: d.args[1] for d in self.directives + location.directives if d.name == "set"
        }
        passes = [d.args[0] for d in location.directives if d.name == "proxy_pass"]
        assert len(passes) == 1, f"location {location.uri}: one proxy_pass"
        target = variables.get(passes[0], passes[0])
        return target.removeprefix("http://").rstrip("/")


def gateway_server(compose: dict[str, Any]) -> Server:
    service = compose["services"]["gateway"]
    targets = {c["target"]: c["source"] for c in service["configs"]}
    source = targets["/etc/nginx/conf.d/default.conf"]
    config = parse_nginx(compose["configs"][source]["content"])
    servers = [d for d in config if d.name == "server"]
    assert len(servers) == 1
    assert servers[0].block is not None
    server = Server(servers[0].block)
    for directive in server.directives:
        if directive.name == "location":
            assert directive.block is not None
            modifier, uri = directive.args if len(directive.args) == 2 else ["", directive.args[0]]
            server.locations.append(Location(modifier, uri, directive.block))
    return server


def _nginx_seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", value)
    assert match, value
    factor = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}[match[2]]
    return int(match[1]) * factor


def _nginx_bytes(value: str) -> int:
    match = re.fullmatch(r"(\d+)([kKmMgG])?", value)
    assert match, value
    return (
        int(match[1])
        * {"k": 1024, "m": 1024**2, "g": 1024**3, None: 1}[match[2].lower() if match[2] else None]
    )


def gateway_problems(compose: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    server = gateway_server(compose)
    port = _default("port")
    expected = {
        "/": "api",
        "/index.html": "api",
        "/assets/index-abc.js": "api",
        "/api": "api",
        "/api/v1/boards": "api",
        "/api/docs": "api",
        "/healthz": "api",
        "/ws": "realtime",
        "/ws/": "realtime",
        "/wsx": "api",
        "/api/ws": "api",
    }
    for path, service in expected.items():
        location = server.route(path)
        upstream = server.upstream(location)
        if upstream != f"{service}:{port}":
            problems.append(f"{path} goes to {upstream}, not {service}:{port}")
        headers = {args[0].lower(): args[1] for args in server.values(location, "proxy_set_header")}
        if headers.get("host") != "$http_host":
            problems.append(f"{path}: the browser's Host must reach the app (origin checks)")
        if "x-forwarded-for" not in headers or "x-forwarded-proto" not in headers:
            problems.append(f"{path}: X-Forwarded-For and -Proto must reach the app")

    socket = server.route("/ws")
    headers = {args[0].lower(): args[1] for args in server.values(socket, "proxy_set_header")}
    if headers.get("upgrade") != "$http_upgrade" or headers.get("connection") not in (
        "$connection_upgrade",
        "upgrade",
    ):
        problems.append("/ws: the WebSocket Upgrade and Connection headers must be passed")
    if server.values(socket, "proxy_http_version") != [["1.1"]]:
        problems.append("/ws: WebSockets need proxy_http_version 1.1")
    ping = float(_default("ws_ping_interval_seconds"))
    for timeout in ("proxy_read_timeout", "proxy_send_timeout"):
        values = server.values(socket, timeout)
        seconds = _nginx_seconds(values[0][0]) if values else 60.0  # nginx's default
        if seconds <= ping:
            problems.append(f"/ws: {timeout} {seconds}s closes sockets between pings ({ping}s)")

    api = server.route("/api/v1/boards")
    body = server.values(api, "client_max_body_size")
    limit = _nginx_bytes(body[0][0]) if body else 1024**2  # nginx's default: 1 MiB
    largest = max(_default("attachment_max_bytes"), _default("import_max_bytes"))
    if limit < largest:
        problems.append(f"client_max_body_size {limit} is under the api's largest body {largest}")
    return problems


def test_the_gateway_routes_as_the_ingress_does() -> None:
    compose = load_compose()
    assert gateway_problems(compose) == []
    gateway = compose["services"]["gateway"]
    listen = [d.args for d in gateway_server(compose).directives if d.name == "listen"]
    assert listen == [["8080"]]
    published = [str(p).rsplit(":", 2) for p in gateway["ports"]]
    assert [p[-1] for p in published] == ["8080"]
    assert [p[-2] for p in published] == ["8080"]
    # The one published port of the application (observability tools aside).
    exposed = [
        name
        for name, service in compose["services"].items()
        if service.get("ports") and not service.get("profiles")
    ]
    assert exposed == ["gateway"]


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("location ~ ^/ws(/|$$) {", "location /wsold {", "/ws goes to api"),
        ("set $$realtime http://realtime:8000;", "set $$realtime http://api:8000;", "/ws goes"),
        ("proxy_set_header Upgrade $$http_upgrade;\n", "", "Upgrade and Connection"),
        (
            "              proxy_set_header Host $$http_host;\n",
            "",
            "/ws: the browser's Host",
        ),
        ("proxy_read_timeout 3600s;", "proxy_read_timeout 10s;", "proxy_read_timeout"),
        ("client_max_body_size 128m;", "client_max_body_size 10m;", "client_max_body_size"),
        ("          proxy_http_version 1.1;\n", "", "proxy_http_version"),
    ],
)
def test_a_broken_gateway_is_refused(old: str, new: str, problem: str) -> None:
    text = COMPOSE.read_text()
    assert old in text, old
    problems = gateway_problems(load_compose(text.replace(old, new, 1)))
    assert any(problem in p for p in problems), problems


# --- the observability profile ------------------------------------------------------------


def _config(compose: dict[str, Any], service: str, target: str) -> Any:
    sources = {c["target"]: c["source"] for c in compose["services"][service]["configs"]}
    return yaml.safe_load(compose["configs"][sources[target]]["content"])


def _host_path(service: dict[str, Any], container_path: str) -> Path | None:
    """The host file a container path of a bind mount is (relative to the Compose file)."""
    for entry in service.get("volumes", []):
        source, target = short_volume(entry)
        if not source.startswith((".", "/")):
            continue  # a named volume
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            relative = posixpath.relpath(container_path, target)
            return (COMPOSE.parent / source / relative).resolve()
    return None


def test_observability_is_an_optional_profile() -> None:
    compose = load_compose()
    for name, service in compose["services"].items():
        if name in OBSERVABILITY:
            assert service.get("profiles") == ["observability"], name
        else:
            assert not service.get("profiles"), f"{name} must start with `docker compose up`"


def test_prometheus_scrapes_every_deployment_and_loads_the_charts_rules() -> None:
    compose = load_compose()
    prometheus = compose["services"]["prometheus"]
    config = _config(compose, "prometheus", "/etc/prometheus/prometheus.yml")
    assert f"--config.file={'/etc/prometheus/prometheus.yml'}" in prometheus["command"]

    rules = CHART / "files" / "alerts" / "taskboard.rules.yaml"
    loaded: set[Path] = set()
    for pattern in config["rule_files"]:
        directory, glob = posixpath.split(pattern)
        host = _host_path(prometheus, directory)
        assert host is not None, f"{pattern}: not a mounted path"
        loaded |= {p.resolve() for p in host.glob(glob)}
    assert rules.resolve() in loaded, (sorted(loaded), rules)
    assert yaml.safe_load(rules.read_text())["groups"], "a Prometheus rule file"

    metrics_port = _default("metrics_port")
    services = taskboard_services(compose)
    scraped: dict[str, int] = {}
    for job in config["scrape_configs"]:
        for sd in job.get("dns_sd_configs", []):
            for name in sd["names"]:
                scraped[name] = sd["port"]
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, _, port = target.partition(":")
                scraped[host] = int(port)
    for name in SERVING:
        port = int(environment(services[name]).get("TASKBOARD_METRICS_PORT", metrics_port))
        assert scraped.get(name) == port, f"{name}'s metrics ({port}) are not scraped"


def test_grafana_is_provisioned_with_the_charts_dashboards() -> None:
    compose = load_compose()
    grafana = compose["services"]["grafana"]
    providers = _config(compose, "grafana", "/etc/grafana/provisioning/dashboards/taskboard.yaml")[
        "providers"
    ]
    dashboards = CHART / "files" / "dashboards"
    assert sorted(dashboards.glob("*.json")), "the chart ships dashboards"
    paths = [_host_path(grafana, p["options"]["path"]) for p in providers]
    assert dashboards.resolve() in paths, paths
    for dashboard in dashboards.glob("*.json"):
        json.loads(dashboard.read_text())

    datasources = _config(
        compose, "grafana", "/etc/grafana/provisioning/datasources/taskboard.yaml"
    )["datasources"]
    prometheus = [d for d in datasources if d["type"] == "prometheus"]
    assert len(prometheus) == 1
    # The dashboards pick their datasource through a variable: the default one.
    assert prometheus[0]["isDefault"] is True
    assert prometheus[0]["url"] == "http://prometheus:9090"
    assert "prometheus" in compose["services"]


def test_the_collector_receives_what_the_application_sends() -> None:
    """TASKBOARD_OTLP_ENDPOINT=http://otel-collector:4318 (the header says so): OTLP over
    HTTP, on the collector's standard port, into a traces pipeline."""
    compose = load_compose()
    header = COMPOSE.read_text().split("\nname:", 1)[0]
    assert "TASKBOARD_OTLP_ENDPOINT=http://otel-collector:4318" in header
    config = _config(compose, "otel-collector", "/etc/otelcol-contrib/config.yaml")
    http = config["receivers"]["otlp"]["protocols"]["http"]
    assert http["endpoint"].rsplit(":", 1)[-1] == "4318"
    pipeline = config["service"]["pipelines"]["traces"]
    assert "otlp" in pipeline["receivers"]
    assert all(exporter in config["exporters"] for exporter in pipeline["exporters"])
    # Unset, the application exports nothing (no collector to reach without the profile).
    for name, service in taskboard_services(compose).items():
        assert environment(service).get("TASKBOARD_OTLP_ENDPOINT", "") == "", name


def unpinned_images(compose: dict[str, Any]) -> list[str]:
    """Third-party images not pinned to a release (a floating tag changes under a rebuild)."""
    own = {s.get("image") for s in taskboard_services(compose).values()}
    problems = []
    for name, service in compose["services"].items():
        image = service["image"]
        if image in own:
            continue
        tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
        if not re.match(r"v?\d+\.\d+", tag):
            problems.append(f"{name}: {image}")
    return problems


def test_images_are_pinned() -> None:
    assert unpinned_images(load_compose()) == []
    text = COMPOSE.read_text()
    for old, new in (
        ("image: nginx:1.30.4-alpine", "image: nginx:alpine"),
        ("image: postgres:18.6-trixie", "image: postgres"),
        ("image: grafana/grafana:12.2.1", "image: grafana/grafana:latest"),
    ):
        assert old in text, old
        assert unpinned_images(load_compose(text.replace(old, new))), new


def test_loading_is_faithful() -> None:
    """The reader above: anchors merged as Compose merges them, `$$` unescaped."""
    compose = load_compose()
    api = compose["services"]["api"]
    assert api["read_only"] is True  # from x-taskboard, through `<<:`
    assert api["command"] == ["api"]  # the service's own key wins over the merged one
    content = compose["configs"]["gateway"]["content"]
    assert "$http_upgrade" in content
    assert "$$" not in content
    with pytest.raises(ValueError, match="required"):
        interpolate({"x": "${NOPE:?set it}"}, {})
    assert interpolate_text("${A:-x}-${B-y}-$$C", {"B": ""}) == "x--$C"
