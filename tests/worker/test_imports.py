"""Imports survive the worker: a worker killed while it builds a board leaves no board behind
(its transaction dies with it), and another worker builds the job once, to one board."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import eventually
from tests.realtime.cluster import account, start, wait_ready
from tests.worker.conftest import Deployment

API = "/api/v1"
TASKS = 12_000  # enough batches to be caught in the middle


def document(tasks: int) -> dict[str, Any]:
    return {
        "format": "taskboard.board",
        "version": 1,
        "board": {"name": "Big import"},
        "columns": [{"key": "todo", "name": "To do"}, {"key": "done", "name": "Done"}],
        "tasks": [
            {
                "title": f"Task {n}",
                "column": "todo" if n % 2 else "done",
                "comments": [{"body": f"note {n}"}] if n % 4 == 0 else [],
            }
            for n in range(tasks)
        ],
    }


async def test_a_worker_killed_mid_import_leaves_no_board_and_the_next_builds_it_once(
    deployment: Deployment,
) -> None:
    for pod in deployment.workers:  # this test's workers alone take the queue
        pod.kill()
    # Quick to notice a job whose worker is gone.
    env = {"TASKBOARD_IMPORT_STALE_SECONDS": "2"}
    first = start("worker", "imports-1", deployment.urls, **env)
    deployment.workers.append(first)
    wait_ready([first])
    base = deployment.api.http
    async with httpx.AsyncClient(timeout=60) as http:
        importer = await account(http, deployment.api, "Importer")

        async def job() -> dict[str, Any]:
            response = await http.get(f"{base}{API}/imports/{job_id}", headers=importer.headers)
            assert response.status_code == 200, response.text
            found: dict[str, Any] = response.json()
            return found

        async def boards() -> list[dict[str, Any]]:
            response = await http.get(f"{base}{API}/boards", headers=importer.headers)
            items: list[dict[str, Any]] = response.json()["items"]
            return items

        queued = await http.post(
            f"{base}{API}/boards/import", json=document(TASKS), headers=importer.headers
        )
        assert queued.status_code == 202, queued.text
        job_id = queued.json()["id"]
        midway = await eventually(
            job, lambda j: j["status"] != "queued" and j["progress"] > 0, every=0.01
        )
        first.kill()
        assert midway["status"] == "running", midway  # caught while it was building
        assert midway["progress"] < midway["total"]
        assert await boards() == []  # nothing of the board was committed
        second = start("worker", "imports-2", deployment.urls, **env)
        deployment.workers.append(second)
        wait_ready([second])
        done = await eventually(job, lambda j: j["status"] in ("done", "failed"), timeout=90)
        assert done["status"] == "done", done
        assert done["result"]["tasks"] == TASKS
        assert done["result"]["comments"] == TASKS // 4
        # One board, whatever copies of the job's message went round.
        made = await boards()
        assert [b["id"] for b in made] == [done["board_id"]]
        snapshot = await http.get(
            f"{base}{API}/boards/{done['board_id']}", headers=importer.headers
        )
        assert len(snapshot.json()["tasks"]) == TASKS
        second.kill()
