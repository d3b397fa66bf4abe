"""The Locust scenario (loadtests/locustfile.py, loadtests/scenario/) runs as the loadtests README
says, against `taskboard up --ephemeral`: a few seconds, a few users, headless, read back from
its CSV. No figure is judged (the machine is shared); what is checked is that the run is clean,
that every route of the REST mix and the write → frame latency are reported, and that the
checks can fail: a lost frame, an unreachable host.

The four Locust runs go at once (each on boards of its own), which keeps the module near 25 s;
the scenario's pure parts (seq checks, tokens, shapes) are tested in-process below. Locust
itself is never imported here: it monkey-patches the standard library for gevent."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from loadtests.benchkit.site import running_site
from loadtests.scenario.correlation import Pending, find_token, new_token
from loadtests.scenario.plans import step_users, storm_end, storms_due
from loadtests.scenario.stream import SeqGap, SeqRepeat, StreamError, Streams

from taskboard.embedded.processes import free_port
from tests.deploy.test_kustomize import restricted_problems
from tests.deploy.tooling import KUBE_VERSIONS, checkov_failures, require_tool, schema_errors

ROOT = Path(__file__).resolve().parent.parent
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-")

# The REST mix, as the route templates the statistics must group it by.
REST_ROUTES = {
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/boards/{board_id}/members"),
    ("GET", "/api/v1/boards"),
    ("GET", "/api/v1/boards/{board_id}"),
    ("POST", "/api/v1/boards/{board_id}/tasks"),
    ("POST", "/api/v1/tasks/{task_id}/move"),
    ("PATCH", "/api/v1/tasks/{task_id}"),
    ("POST", "/api/v1/tasks/{task_id}/comments"),
    ("GET", "/api/v1/notifications"),
    ("GET", "/api/v1/notifications/unread-count"),
    ("POST", "/api/v1/notifications/read-all"),
}
# Short think times: enough requests in a few seconds that every route of the mix shows up.
FAST = ["--think-min", "0.1", "--think-max", "0.5"]


# Locust rewrites its CSV files once a second and not at exit, so they can miss the last
# second: counts that must be exact are read from the stats saved at exit (--json-file).


@dataclass
class Run:
    process: subprocess.Popen[bytes]
    prefix: Path
    log: Path

    def finish(self) -> Finished:
        try:
            code = self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        return Finished(
            code,
            _rows(self.prefix, "stats"),
            _rows(self.prefix, "failures"),
            _rows(self.prefix, "exceptions"),
            self.log.read_text(errors="replace")[-4000:],
            _final(self.prefix),
        )


@dataclass
class Finished:
    code: int
    stats: list[dict[str, str]]
    failures: list[dict[str, str]]
    exceptions: list[dict[str, str]]
    output: str
    final: list[dict[str, Any]]  # --json-file: the stats at exit

    def counts(self, request_type: str) -> dict[str, int]:
        """Requests per name at exit (--json-file)."""
        return {s["name"]: s["num_requests"] for s in self.final if s["method"] == request_type}

    def rows(self, request_type: str) -> dict[str, int]:
        return {
            row["Name"]: int(row["Request Count"])
            for row in self.stats
            if row["Type"] == request_type
        }


def _rows(prefix: Path, kind: str) -> list[dict[str, str]]:
    path = Path(f"{prefix}_{kind}.csv")
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _final(prefix: Path) -> list[dict[str, Any]]:
    path = Path(f"{prefix}.json")
    return list(json.loads(path.read_text())) if path.exists() else []


def _locust(directory: Path, locustfile: str, host: str, *args: str) -> Run:
    directory.mkdir(parents=True)
    prefix = directory / "run"
    log = directory / "locust.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", locustfile, "--headless", "--host", host,
             "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING", *args],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ),
        )  # fmt: skip
    return Run(process, prefix, log)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    base = tmp_path_factory.mktemp("locust")
    # Argon2 at its cheapest: sign-ups are the runs' preparation, not what is under test.
    with running_site(TASKBOARD_PASSWORD_HASH_MEMORY_KIB="64") as url:
        started = {
            "default": _locust(
                base / "default", "loadtests/locustfile.py", url,
                "-u", "6", "-r", "6", "-t", "15s", *FAST,
            ),
            "storm": _locust(
                base / "storm", "loadtests/scenario/shapes.py", url,
                "--shape", "storm", "--storm-users", "8", "--storm-rate", "8",
                "--storm-at", "6", "--storm-every", "5", "--storms", "2",
                "--storm-jitter", "2", "--rest-weight", "1", "--ws-weight", "1", *FAST,
                "--json-file", str(base / "storm" / "run"),
            ),
            "lossy": _locust(
                base / "lossy", "loadtests/locustfile.py", url,
                "-u", "6", "-r", "6", "-t", "10s", "--drop-frames-every", "2",
                # One board: the frame after each lost one is on the same board, and shows it.
                "--boards", "1", *FAST,
            ),
            "unreachable": _locust(
                base / "unreachable", "loadtests/locustfile.py", f"http://127.0.0.1:{free_port()}",
                # As long as the others (it runs beside them): on a starved machine a few
                # seconds can pass before its first user gets the CPU.
                "-u", "3", "-r", "3", "-t", "10s", "--json-file", str(base / "unreachable" / "run"),
                *FAST,
            ),
        }  # fmt: skip
        try:
            yield started
        finally:
            for run in started.values():
                if run.process.poll() is None:
                    run.process.kill()
                    run.process.wait()


def test_default_scenario_is_clean_and_reports_write_to_frame(runs: dict[str, Run]) -> None:
    done = runs["default"].finish()
    assert done.code == 0, done.output
    assert done.stats, done.output
    failing = [r for r in done.stats if r["Failure Count"] != "0"]
    assert failing == [], done.output
    assert done.exceptions == [], done.exceptions

    seen = {(r["Type"], r["Name"]) for r in done.stats if int(r["Request Count"]) > 0}
    assert sorted(REST_ROUTES - seen) == []
    # Grouped by template: no row is named after one board or task.
    assert [name for _, name in seen if UUID.search(name)] == []

    latency = done.rows("write→frame")
    for event in ("task.created", "task.updated", "comment.created"):
        assert latency.get(event, 0) > 0, (event, latency, done.output)
    frames = done.rows("WS")
    for name in ("connect", "subscribed", "event"):
        assert frames.get(name, 0) > 0, (name, frames)


def test_reconnect_storm_resumes_every_socket_without_a_loss(runs: dict[str, Run]) -> None:
    done = runs["storm"].finish()
    assert done.code == 0, done.output
    assert [s for s in done.final if s["num_failures"]] == [], done.final
    assert done.exceptions == [], done.exceptions
    frames = done.counts("WS")
    # 4 sockets, 2 storms: by the second one at the latest all are up and dropped; each
    # dropped socket comes back with all its boards subscribed again.
    assert frames.get("storm drop", 0) >= 4, frames
    assert frames.get("reconnect", 0) == frames["storm drop"], frames
    # What was written while the sockets were away came in their resumes, in order.
    latency = done.counts("write→frame")
    assert sum(v for k, v in latency.items() if k.endswith("(replayed)")) > 0, latency


def test_a_lost_frame_is_a_failure(runs: dict[str, Run]) -> None:
    done = runs["lossy"].finish()
    assert done.code != 0, done.output
    gaps = [f for f in done.failures if f["Name"] == "event" and "SeqGap" in f["Error"]]
    assert gaps, done.failures or done.output


def test_an_unreachable_host_is_a_failure(runs: dict[str, Run]) -> None:
    done = runs["unreachable"].finish()
    assert done.code != 0, done.output
    failed = {(s["method"], s["name"]) for s in done.final if s["num_failures"] > 0}
    assert ("POST", "/api/v1/auth/register") in failed, done.final or done.output


# ------------------------------------------------------------------- the pure parts


def _subscribed(streams: Streams, board: str = "b", seq: int = 10) -> None:
    streams.subscribe_messages()
    streams.subscribed(board, seq, "e1")


def test_seq_checks_find_gaps_and_repeats() -> None:
    streams = Streams(["b"])
    _subscribed(streams)
    assert streams.event("b", 11) == "live"
    with pytest.raises(SeqGap, match=r"12\.\.13"):
        streams.event("b", 14)
    assert streams.event("b", 15) == "live"  # a loss counts once
    with pytest.raises(SeqRepeat):
        streams.event("b", 15)
    with pytest.raises(SeqRepeat):
        streams.event("b", 9)
    with pytest.raises(StreamError):
        streams.event("other", 1)


def test_a_resume_asks_since_the_last_seq_and_marks_the_replay() -> None:
    streams = Streams(["b"])
    first = streams.subscribe_messages()
    assert first == [{"type": "subscribe", "board_id": "b", "since": None}]
    streams.subscribed("b", 10, "e1")
    streams.event("b", 11)
    assert streams.all_active()
    resume = streams.subscribe_messages()
    assert not streams.all_active()
    assert resume == [{"type": "subscribe", "board_id": "b", "since": 11, "epoch": "e1"}]
    assert streams.subscribed("b", 13, "e1") is True
    assert [streams.event("b", s) for s in (12, 13, 14)] == ["replayed", "replayed", "live"]


def test_after_a_resync_what_the_snapshot_holds_is_skipped() -> None:
    streams = Streams(["b"])
    _subscribed(streams)
    streams.resync("b", 40, "e2")
    assert streams.event("b", 39) == "ignored"
    assert streams.event("b", 40) == "ignored"
    assert streams.event("b", 41) == "live"
    with pytest.raises(SeqGap):
        streams.event("b", 43)


def test_a_token_is_measured_only_in_the_event_it_was_written_for() -> None:
    created = new_token("task.created")
    frame = json.dumps(
        {"type": "event", "event": "task.created", "data": {"task": {"title": f"x {created.text}"}}}
    )
    found = find_token("task.created", frame)
    assert found is not None
    assert (found.id, found.event) == (created.id, "task.created")
    assert found.sent_at == pytest.approx(created.sent_at, abs=1e-6)
    # A move carries the task (and its title's old token) again: not a new measurement.
    assert find_token("task.moved", frame.replace("task.created", "task.moved", 1)) is None
    assert find_token("task.updated", frame) is None
    assert find_token("comment.created", '{"body":"no token here"}') is None


def test_pending_writes_missed_by_a_reader_become_overdue() -> None:
    pending = Pending()
    pending.subscribed("b", 1)
    pending.subscribed("b", 2)
    seen, missed, refused, unwatched = (new_token("task.created") for _ in range(4))
    for token in (seen, missed, refused):
        pending.sent(token, "b")
    pending.sent(unwatched, "nobody-reads-this-board")
    pending.seen(seen, 1)
    pending.seen(seen, 2)
    pending.seen(missed, 1)
    pending.failed(refused)
    assert pending.overdue(timeout=30) == []  # not late yet
    late = pending.overdue(timeout=30, now=missed.sent_at + 31)
    assert [(o.event, o.board_id, o.readers) for o in late] == [("task.created", "b", 1)]
    assert len(pending) == 0


def test_a_reader_that_left_is_not_awaited() -> None:
    pending = Pending()
    pending.subscribed("b", 1)
    token = new_token("comment.created")
    pending.sent(token, "b")
    pending.forget_reader(1)
    assert pending.overdue(timeout=0, now=token.sent_at + 1) == []


def test_the_shapes() -> None:
    assert [step_users(t, 10, 60, 3) for t in (0, 59.9, 60, 179.9, 180)] == [
        10, 10, 20, 30, None,
    ]  # fmt: skip
    assert [storms_due(t, 30, 20, 3) for t in (0, 29.9, 30, 49.9, 50, 70, 500)] == [
        0, 0, 1, 1, 2, 3, 3,
    ]  # fmt: skip
    assert storm_end(30, 20, 3) == 90


# ------------------------------------------------------------------- in a cluster

K8S = ROOT / "loadtests" / "k8s"


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    kubectl = require_tool("kubectl")
    built = subprocess.run(
        [kubectl, "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(K8S)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


def _workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == "Deployment"]


def test_the_manifests_validate_and_run_restricted(manifests: list[dict[str, Any]]) -> None:
    errors = [e for v in KUBE_VERSIONS for obj in manifests for e in schema_errors(obj, v)]
    assert errors == []
    workloads = _workloads(manifests)
    assert {w["metadata"]["name"] for w in workloads} == {"locust-master", "locust-worker"}
    assert [p for w in workloads for p in restricted_problems(w)] == []


def test_the_pods_get_every_file_of_the_scenario_where_it_is_imported_from(
    manifests: list[dict[str, Any]],
) -> None:
    """The ConfigMap is flat; each pod puts the files back as loadtests/... so that the
    locustfile's `loadtests.scenario` imports work. A module added to the package and not to
    the manifests would be missing in the cluster only."""
    wanted = {"locustfile.py": "loadtests/locustfile.py"} | {
        f.name: f"loadtests/scenario/{f.name}"
        for f in (ROOT / "loadtests" / "scenario").glob("*.py")
    }
    (config_map,) = [o for o in manifests if o["kind"] == "ConfigMap"]
    assert set(config_map["data"]) == set(wanted)
    for workload in _workloads(manifests):
        pod = workload["spec"]["template"]["spec"]
        volume = next(v for v in pod["volumes"] if v.get("configMap"))
        assert volume["configMap"]["name"] == config_map["metadata"]["name"]
        assert {i["key"]: i["path"] for i in volume["configMap"]["items"]} == wanted
        (container,) = pod["containers"]
        (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["LOCUST_LOCUSTFILE"] == f"{mount['mountPath']}/loadtests/locustfile.py"


def test_checkov_finds_nothing_in_the_manifests(
    manifests: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundled = ROOT / ".venv-checkov" / "bin" / "checkov"
    if "TASKBOARD_CHECKOV" not in os.environ and bundled.exists():
        monkeypatch.setenv("TASKBOARD_CHECKOV", str(bundled))
    rendered = tmp_path / "locust.yaml"
    rendered.write_text(yaml.safe_dump_all(manifests, sort_keys=False))
    assert checkov_failures(rendered, "kubernetes") == []
