"""A board import end to end through real processes: an api pod stores the job, one of two
worker pods builds the board, and the importer's socket on a realtime pod hears the job move
(`import_job` frames: running with progress, then done) without subscribing to anything."""

from __future__ import annotations

from typing import Any

import httpx

from tests.realtime.cluster import WsClient, account
from tests.realtime.conftest import Cluster

API = "/api/v1"


def trello_board(cards: int) -> dict[str, Any]:
    lists = [{"id": f"list{i}", "name": f"List {i}", "pos": i} for i in range(3)]
    return {
        "name": "From Trello",
        "lists": lists,
        "labels": [{"id": "l1", "name": "", "color": "green"}],
        "cards": [
            {
                "id": f"card{c}",
                "name": f"Card {c}",
                "idList": f"list{c % 3}",
                "pos": cards - c,
                "idLabels": ["l1"] if c % 2 else [],
            }
            for c in range(cards)
        ],
        "actions": [
            {
                "type": "commentCard",
                "date": "2024-03-05T09:00:00.000Z",
                "data": {"text": f"On {c}", "card": {"id": f"card{c}"}},
                "memberCreator": {"id": "m1", "fullName": "Someone"},
            }
            for c in range(0, cards, 3)
        ],
    }


async def test_the_importer_sees_progress_on_the_socket_and_gets_one_board(
    cluster: Cluster,
) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        importer = await account(http, cluster.api1, "Importer")
        other = await account(http, cluster.api1, "Other")
        socket = WsClient(cluster.rt1.ws, importer.token)  # no subscription
        bystander = WsClient(cluster.rt2.ws, other.token)
        await socket.connect()
        await bystander.connect()
        body = trello_board(1200)  # three batches of tasks
        headers = {**importer.headers, "Idempotency-Key": "trello-1"}
        queued = await http.post(
            f"{cluster.api1.http}{API}/boards/import/trello", json=body, headers=headers
        )
        assert queued.status_code == 202, queued.text
        job_id = queued.json()["id"]
        done = await socket.wait_for(
            lambda f: f["type"] == "import_job" and f["job"]["status"] == "done", timeout=120
        )
        frames = [f["job"] for f in socket.frames if f["type"] == "import_job"]
        assert all(job["id"] == job_id for job in frames)
        running = [job for job in frames if job["status"] == "running"]
        assert running[0]["progress"] == 0
        assert running[0]["total"] == 1200 + 400
        assert any(0 < job["progress"] < job["total"] for job in running), running
        progress = [job["progress"] for job in running]
        assert progress == sorted(progress)
        board_id = done["job"]["board_id"]
        assert done["job"]["progress"] == done["job"]["total"]
        assert done["job"]["result"]["tasks"] == 1200
        assert done["job"]["result"]["comments"] == 400
        # The same request again (another api pod): the same job, done; still one board.
        again = await http.post(
            f"{cluster.api2.http}{API}/boards/import/trello", json=body, headers=headers
        )
        assert (again.status_code, again.json()["id"]) == (202, job_id)
        assert again.json()["status"] == "done"
        boards = await http.get(f"{cluster.api2.http}{API}/boards", headers=importer.headers)
        assert [b["id"] for b in boards.json()["items"]] == [board_id]
        snapshot = await http.get(
            f"{cluster.api2.http}{API}/boards/{board_id}", headers=importer.headers
        )
        tasks = snapshot.json()["tasks"]
        assert len(tasks) == 1200
        first_column = [t["title"] for t in tasks if t["status"] == "list_0"]
        # Cards in `pos` order: the highest card number first in each list.
        assert first_column[:2] == ["Card 1197", "Card 1194"]
        # Nobody else hears of it.
        assert not [f for f in bystander.frames if f["type"] == "import_job"]
        await socket.close()
        await bystander.close()
