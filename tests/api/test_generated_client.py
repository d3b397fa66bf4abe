"""A client generated from the document, as an integrator would make one, drives the API: the
README's flow, then a 404, a 412 and a 429, each parsed into the document's Problem model.
Generated inside the run from the document the code serves (openapi-python-client)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from taskboard.api.app import create_app
from taskboard.api.openapi import document
from taskboard.core.runtime import Resources
from tests.conftest import make_settings
from tests.fixtures.services import ServiceUrls

GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    base = tmp_path_factory.mktemp("client")
    spec = base / "openapi.json"
    spec.write_text(json.dumps(document()))
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(spec),
            "--meta",
            "none",
            "--output-path",
            str(base / "tbclient"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=base,
    )
    assert (base / "tbclient" / "client.py").exists(), result.stdout + result.stderr
    sys.path.insert(0, str(base))
    try:
        return importlib.import_module("tbclient")
    finally:
        sys.path.remove(str(base))


def _api(client: ModuleType, name: str) -> Any:
    return importlib.import_module(f"tbclient.api.{name}")


async def test_a_generated_client_runs_the_readme_flow_and_parses_problems(
    generated: ModuleType, service_urls: ServiceUrls, resources: Resources
) -> None:
    from tbclient import AuthenticatedClient, Client  # type: ignore[import-not-found]
    from tbclient.models import (  # type: ignore[import-not-found]
        BoardCreate,
        Credentials,
        Problem,
        Registration,
        TaskCreate,
        TaskUpdate,
    )

    resources.settings = make_settings(service_urls, rate_limit_auth_per_ip=3)
    app = create_app(resources.settings, resources=resources)
    transport = {"transport": httpx.ASGITransport(app=app)}
    anonymous = Client(base_url="http://testserver", httpx_args=transport)

    register = _api(generated, "auth.auth_register")
    login = _api(generated, "auth.auth_login")
    email = f"gen-{uuid.uuid4().hex[:8]}@example.com"
    user = await register.asyncio(
        client=anonymous,
        body=Registration(email=email, password="correct horse battery", display_name="Gen"),
    )
    assert str(user.email) == email
    tokens = await login.asyncio(
        client=anonymous, body=Credentials(email=email, password="correct horse battery")
    )
    client = AuthenticatedClient(
        base_url="http://testserver", token=tokens.access_token, httpx_args=transport
    )

    board = await _api(generated, "boards.boards_create").asyncio(
        client=client, body=BoardCreate(name="Launch")
    )
    task = await _api(generated, "tasks.tasks_create").asyncio(
        board.id,
        client=client,
        body=TaskCreate(title="Write the announcement"),
        idempotency_key="7f0c",
    )
    snapshot = await _api(generated, "boards.boards_get").asyncio(board.id, client=client)
    assert [t.title for t in snapshot.tasks] == ["Write the announcement"]
    events = await _api(generated, "events.events_list").asyncio(board.id, client=client)
    assert [e.type_ for e in events.items][-1] == "task.created"

    missing = await _api(generated, "tasks.tasks_get").asyncio(uuid.uuid4(), client=client)
    assert isinstance(missing, Problem)
    assert (missing.status, missing.type_) == (404, "/problems/task-not-found")

    update = _api(generated, "tasks.tasks_update")
    fresh = await update.asyncio(
        task.id, client=client, body=TaskUpdate(title="v2"), if_match='"1"'
    )
    assert fresh.version == 2
    stale = await update.asyncio(
        task.id, client=client, body=TaskUpdate(title="v3"), if_match='"1"'
    )
    assert isinstance(stale, Problem)
    assert stale.status == 412
    assert stale.additional_properties["current"]["title"] == "v2"

    bad = Credentials(email=email, password="wrong")
    answers = [await login.asyncio(client=anonymous, body=bad) for _ in range(3)]
    assert isinstance(answers[-1], Problem)
    assert answers[-1].status == 429
