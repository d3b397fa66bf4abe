"""taskboard under Locust: the default scenario (loadtests/README.md says how to run it).

    locust -f loadtests/locustfile.py --host http://127.0.0.1:8000

RestUser (weight --rest-weight) signs up, joins the shared boards (--boards) and works on them:
opens snapshots, lists boards, creates, moves, edits and comments on tasks, reads
notifications. SocketUser (weight --ws-weight) keeps a WebSocket subscribed to those boards and
reports every frame as request type WS, the write → frame latency of each create, edit and
comment as request type `write→frame`, and any gap, duplicate or out-of-order seq as a failure.
No load shape here: -u, -r and -t (or the web UI) set the load; loadtests/scenario/shapes.py adds
the step and reconnect-storm shapes.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The scenario is the package loadtests.scenario: importable from the repository root (also in
# the cluster's ConfigMap layout), never as `locust`, which is Locust itself.
_ROOT = str(Path(__file__).absolute().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from loadtests.scenario import options as _options  # noqa: E402,F401  (registers the arguments)
from loadtests.scenario.users import RestUser, SocketUser  # noqa: E402

__all__ = ["RestUser", "SocketUser"]
