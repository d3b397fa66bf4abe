"""Import progress, live: the worker publishes the job each time it moves, every realtime pod
hears it and sends an `import_job` frame to the importing user's open sockets."""

from __future__ import annotations

import json
import uuid
from typing import Any

from taskboard.transfer.schemas import ImportJobRead

CHANNEL = "tb:imports"


def encode(user_id: uuid.UUID, job: ImportJobRead) -> str:
    return json.dumps({"user_id": str(user_id), "job": job.model_dump(mode="json")})


def decode(raw: bytes | str) -> tuple[uuid.UUID, dict[str, Any]]:
    message = json.loads(raw)
    return uuid.UUID(message["user_id"]), dict(message["job"])
