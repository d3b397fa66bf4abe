"""The benchmarks are part of the product: each must still run end to end against the current
schema and code and print its figures. Tiny sizes; no figure is judged here (that is
docs/benchmarks.md's job, on a quiet machine)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_bench_write_runs_every_phase(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    result = _run(
        "loadtests/bench_write.py",
        "--quick",
        "--tasks",
        "20",
        "--concurrent-tasks",
        "40",
        "--concurrency",
        "4",
        "--snapshot-tasks",
        "50",
        "--snapshot-gets",
        "3",
        "--warmup",
        "5",
        "--json",
        str(out),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for phase in ("a. HTTP create", "b. HTTP create", "c. raw SQL", "d. GET snapshot"):
        assert phase in result.stdout, result.stdout[-3000:]
    assert json.loads(out.read_text())


def test_compare_write_measures_both_code_trees_in_turn(tmp_path: Path) -> None:
    out = tmp_path / "blocks.json"
    result = _run(
        "loadtests/compare_write.py",
        "--base-rev",
        "HEAD",
        "--rounds",
        "2",
        "--block",
        "20",
        "--warmup",
        "4",
        "--concurrency",
        "2",
        "--modes",
        "seq,conc",
        "--json",
        str(out),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "new/base: api CPU per create" in result.stdout, result.stdout[-3000:]
    blocks = json.loads(out.read_text())["blocks"]
    # ABBA: each round runs every mode on both sides, the order of the sides alternating.
    assert [(b["side"], b["mode"]) for b in blocks] == [
        ("base", "seq"), ("new", "seq"), ("base", "conc"), ("new", "conc"),
        ("new", "seq"), ("base", "seq"), ("new", "conc"), ("base", "conc"),
    ]  # fmt: skip
    for block in blocks:
        assert block["creates"] == 20
        assert block["cpu_ms_per_create"]["api"] > 0, block


def test_bench_realtime_runs_and_every_frame_arrives() -> None:
    result = _run(
        "loadtests/bench_realtime.py",
        "--rates",
        "20",
        "--hot-rates",
        "5",
        "--duration",
        "2",
        "--subscribers",
        "20",
        "--boards",
        "4",
        "--idle",
        "50",
        "--generators",
        "1",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    fanouts = [r for r in records if r.get("scenario") in ("spread", "hot")]
    assert {r["scenario"] for r in fanouts} == {"spread", "hot"}, result.stdout[-3000:]
    for run in fanouts:
        assert run["frames_received"] == run["frames_expected"] > 0, run
        assert run["write_errors"] == 0, run
        assert all(ms > 0 for ms in run["cpu_probe_ms"]), run
    assert "spread: highest rate kept up with" in result.stdout, result.stdout[-3000:]
    idle = [r for r in records if r.get("scenario") == "idle"]
    assert idle, result.stdout[-3000:]
    assert idle[0]["connections"] == 50


def test_bench_fanout_runs_both_versions_in_turn() -> None:
    # HEAD as the baseline: the comparison machinery (git archive, a second realtime process
    # importing the extracted package, alternating rounds) is what is under test here.
    result = _run(
        "loadtests/bench_fanout.py",
        "--baseline",
        "HEAD",
        "--subscribers",
        "10",
        "--rate",
        "5",
        "--duration",
        "2",
        "--rounds",
        "2",
        "--generators",
        "1",
        "--api-workers",
        "1",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rounds = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    # Two pairs, alternating: before, after, then after, before.
    assert [r["scenario"] for r in rounds] == ["before", "after", "after", "before"], rounds
    for run in rounds:
        assert run["frames_received"] == run["frames_expected"] > 0, run
        assert run["realtime_cpu_us_per_frame"] > 0, run
    assert "every expected frame arrived" in result.stdout


def test_bench_worker_runs_and_everything_arrives() -> None:
    result = _run("loadtests/bench_worker.py", "--quick")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout[result.stdout.index("{\n") :])
    assert report["notify"]["missing"] == 0
    assert report["notify"]["notifications"] > 0
    assert report["reminders"]["emails"] == report["reminders"]["reminders"] > 0
    assert report["webhooks"]["deliveries"] == report["webhooks"]["events"] > 0


def test_bench_web_measures_a_board_in_chromium() -> None:
    result = _run("loadtests/bench_web.py", "--cards", "60", "--repeat", "1")
    if "needs Debian's chromium" in result.stdout + result.stderr and not os.environ.get("CI"):
        pytest.skip("no chromium on PATH (`make browser` installs Debian's, as root)")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout[result.stdout.index("{\n") :])
    assert report["cards"] == 60
    assert report["navigation_to_usable"]["median_ms"] > 0
    assert report["frame_to_card_in_page"]["median_ms"] >= 0
    assert report["bundle"]["board_js_gzip_kib"] > 0


def test_bench_attachments_moves_a_file_every_way() -> None:
    result = _run("loadtests/bench_attachments.py", "--size-mib", "3")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout[result.stdout.index("{\n") :])
    assert report["size_mib"] == 3
    for backend in ("local", "s3_moto"):
        assert report[backend]["through_api_upload_mib_per_s"] > 0
        assert report[backend]["download_mib_per_s"] > 0
    assert report["s3_moto"]["direct_upload_mib_per_s"] > 0


def test_bench_import_builds_a_trello_board_through_the_worker() -> None:
    result = _run("loadtests/bench_import.py", "--cards", "60")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout[result.stdout.index("{\n") :])
    assert (report["cards"], report["tasks"], report["comments"]) == (60, 60, 60)
    assert report["total_s"] > 0


def test_screenshots_script_writes_the_readme_images(tmp_path: Path) -> None:
    result = _run("loadtests/screenshots.py", "--out", str(tmp_path))
    if "needs Debian's chromium" in result.stdout + result.stderr and not os.environ.get("CI"):
        pytest.skip("no chromium on PATH (`make browser` installs Debian's, as root)")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in ("sign-in", "board", "card-detail"):
        assert (tmp_path / f"{name}.png").read_bytes().startswith(b"\x89PNG")


def test_bench_capacity_measures_every_unit(tmp_path: Path) -> None:
    out = tmp_path / "capacity.json"
    result = _run("loadtests/bench_capacity.py", "--quick", "--json", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.startswith("machine: "), result.stdout[:500]
    assert "| unit | n | api | realtime | worker | postgres | redis |" in result.stdout
    report = json.loads(out.read_text())
    units = report["units"]
    assert set(units) == {
        "create, 0 subscribers",
        "create, 20 subscribers",
        "snapshot GET, 100 tasks, built",
        "snapshot GET, 100 tasks, cached",
        "snapshot GET, 1000 tasks, built",
        "snapshot GET, 1000 tasks, cached",
        "idle socket",
        "reminder e-mail",
    }
    # Every frame of the subscribed batch arrived, every reminder was e-mailed, and every
    # snapshot GET returned the whole board.
    hot = units["create, 20 subscribers"]
    assert hot["frames"] == 20 * hot["count"] > 0
    assert units["reminder e-mail"]["emails"] == units["reminder e-mail"]["count"]
    assert units["snapshot GET, 1000 tasks, built"]["tasks_in_response"] == 1000

    def measured(value: float) -> bool:
        return math.isfinite(value) and value > 0

    for unit in ("create, 0 subscribers", "create, 20 subscribers"):
        for tier in ("api", "postgres"):
            assert measured(units[unit]["cpu_ms"][tier]), (unit, units[unit])
    for unit, figures in units.items():
        if unit.startswith("snapshot"):
            assert measured(figures["cpu_ms"]["api"]), (unit, figures)
    derived = report["derived"]
    for name in (
        "realtime_us_per_frame_gross",
        "realtime_kib_per_idle_socket",
        "worker_ms_per_reminder_email",
    ):
        assert measured(derived[name]), (name, derived)
    assert all(math.isfinite(v) for v in derived.values()), derived
    assert all(v > 0 for v in report["rss_mib_at_rest"].values()), report["rss_mib_at_rest"]
    # The board lock's hold, read from PostgreSQL's statement log: one per create.
    assert [h["lanes"] for h in report["lock_hold"]] == [1, 8]
    for hold in report["lock_hold"]:
        assert 0 <= hold["hold_ms_mean"] < math.inf, hold
    # Each create appends its event to a Redis stream, which the realtime pod reads.
    calls = units["create, 0 subscribers"]["redis_calls_per_create"]
    assert calls.get("evalsha", 0) >= 1, calls
    assert calls.get("xreadgroup", 0) > 0, calls


def test_bench_hops_times_round_trips_at_each_gap() -> None:
    result = _run("loadtests/bench_hops.py", "--pings", "20", "--gaps-ms", "0,2")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [(r["gap_ms"], r["pings"]) for r in records] == [(0.0, 20), (2.0, 20)]
    for record in records:
        assert 0 < record["p50_us"] <= record["p90_us"] <= record["p99_us"], record
