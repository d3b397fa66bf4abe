"""A worker pod of several processes (TASKBOARD_WORKER_PROCESSES): one master, that many
processes, each running every part of the worker; the work is shared as between pods, each
e-mail sent once, and SIGTERM stops them all."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from pathlib import Path

import httpx
from redis.asyncio import Redis

from taskboard.core.streams import shard_of, stream_key
from taskboard.worker.notifier import GROUP
from tests.fixtures.services import ServiceUrls, separate_services
from tests.fixtures.smtp import SmtpServer
from tests.helpers import eventually
from tests.realtime.cluster import STREAM_SHARDS, account, board_with, start, wait_ready

API = "/api/v1"
TASKS = 30


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found]


async def test_a_pod_of_two_worker_processes_shares_the_work_and_stops_on_sigterm(
    service_urls: ServiceUrls,
) -> None:
    # A deployment of its own: the other tests' workers must not take these events.
    async with separate_services(service_urls, redis_db=6) as urls:
        smtp = SmtpServer().start()
        api = start("api", "api-procs", urls)
        worker = start(
            "worker",
            "worker-procs",
            urls,
            TASKBOARD_WORKER_PROCESSES="2",
            TASKBOARD_SMTP_URL=smtp.url,
            TASKBOARD_SMTP_FROM="taskboard <tb@example.test>",
            TASKBOARD_EMAIL_DIGEST_SECONDS="0",
        )
        try:
            wait_ready([api, worker])
            children = _children(worker.process.pid)
            assert len(children) == 2
            async with httpx.AsyncClient(timeout=30) as http:
                owner, ada = await account(http, api, "Owner"), await account(http, api, "Ada")
                board_id = await board_with(http, api, owner, ada, name="Busy")
                for n in range(TASKS):
                    made = await http.post(
                        f"{api.http}{API}/boards/{board_id}/tasks",
                        json={"title": f"T{n}", "assignee_ids": [ada.id]},
                        headers=owner.headers,
                    )
                    assert made.status_code == 201, made.text

                async def inbox() -> list[EmailMessage]:
                    return smtp.inbox.to(ada.email)

                await eventually(inbox, lambda got: len(got) >= TASKS, timeout=60)
                # Both processes ran the notifier, each as a consumer of its own (named by its
                # pid, so a crashed one's pending entries are taken over by the other). Redis
                # names a consumer once it was given entries, and serves blocked readers in
                # turn: with 30 events one after another, each process was given some.
                redis = Redis.from_url(urls.redis_url)
                shard = shard_of(uuid.UUID(board_id), STREAM_SHARDS)
                try:
                    consumers = await redis.xinfo_consumers(stream_key(shard), GROUP)
                finally:
                    await redis.aclose()
                # The master's /metrics merges its processes' figures.
                metrics = (await http.get(f"{worker.http}/metrics")).text
            subjects = sorted(m["Subject"] for m in smtp.inbox.to(ada.email))
            assert subjects == sorted(f"Owner assigned you: T{n}" for n in range(TASKS))
            sent = [
                line
                for line in metrics.splitlines()
                if line.startswith('taskboard_emails_total{outcome="sent"}')
            ]
            assert len(sent) == 1, sent
            assert float(sent[0].split()[-1]) == TASKS, sent
            names = {c["name"].decode() for c in consumers}
            assert names == {f"worker-procs-{pid}" for pid in children}, names
            assert worker.terminate(timeout=60) == 0
        finally:
            for pod in (api, worker):
                pod.kill()
            smtp.stop()
