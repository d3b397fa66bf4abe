"""The load shapes, as a locustfile of their own (it brings the users with it):

    locust -f loadtests/scenario/shapes.py --shape step  --step-users 20 --step-seconds 60 --steps 5
    locust -f loadtests/scenario/shapes.py --shape storm --storm-users 300 --ws-weight 5

`step`: `--step-users` more users every `--step-seconds`, `--steps` times, started at
`--step-rate` per second; the run ends after the last step's time. Where the latencies turn is
the capacity of what is under test.

`storm`: `--storm-users` users started at `--storm-rate` per second; at `--storm-at` seconds, and
every `--storm-every` seconds after, `--storms` times, every socket of every worker drops at
once (no close frame, as when a realtime pod dies) and reconnects after a random delay of up to
`--storm-jitter` seconds, resuming each board with `since`. The `WS reconnect` row is the time
from the drop to all of a socket's boards subscribed again; frames replayed by a resume are
reported as `<event> (replayed)` under write→frame; a lost or repeated frame is a failure. The
run ends one interval after the last storm.

A shape sets the user count and run time itself: -u, -r and -t do not apply.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from locust import LoadTestShape

_ROOT = str(Path(__file__).absolute().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from loadtests.scenario import options as _options  # noqa: E402,F401  (registers the arguments)
from loadtests.scenario.plans import step_users, storm_end, storms_due  # noqa: E402
from loadtests.scenario.users import STORM, RestUser, SocketUser  # noqa: E402

__all__ = ["RestUser", "ScenarioShape", "SocketUser"]

log = logging.getLogger(__name__)


class ScenarioShape(LoadTestShape):
    """`--shape step` (the default) or `--shape storm`."""

    def __init__(self) -> None:
        super().__init__()
        self.storms_sent = 0

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        options = self.runner.environment.parsed_options
        assert options is not None
        elapsed = self.get_run_time()
        if options.shape in (None, "step"):
            users = step_users(elapsed, options.step_users, options.step_seconds, options.steps)
            return None if users is None else (users, options.step_rate)
        if elapsed >= storm_end(options.storm_at, options.storm_every, options.storms):
            return None
        due = storms_due(elapsed, options.storm_at, options.storm_every, options.storms)
        while self.storms_sent < due:
            self.storms_sent += 1
            log.info("reconnect storm %d of %d", self.storms_sent, options.storms)
            # To every worker (in a local run, to this process's own handler).
            self.runner.send_message(STORM, {"jitter": options.storm_jitter})
        return options.storm_users, options.storm_rate
