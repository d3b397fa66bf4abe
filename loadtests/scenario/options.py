"""The scenario's own command-line arguments. They go through Locust's parser, so they are also
read from `locust.conf`, from `LOCUST_*` variables (`--boards` is `LOCUST_BOARDS`) and shown in
the web UI, and the master hands them to its workers."""

from __future__ import annotations

from typing import Any

from locust import events
from locust.argument_parser import LocustArgumentParser


@events.init_command_line_parser.add_listener
def add_arguments(parser: LocustArgumentParser) -> None:
    def add(flag: str, **kwargs: Any) -> None:
        # As Locust's own options: `--ws-url` is also LOCUST_WS_URL (what a Pod spec sets).
        env = "LOCUST_" + flag.removeprefix("--").replace("-", "_").upper()
        parser.add_argument(flag, env_var=env, **kwargs)

    add(
        "--boards",
        type=int,
        default=5,
        help="Boards every user shares (made once per run by a seeding account): few boards "
        "make writes and frames meet, more boards spread the per-board lock.",
    )
    add(
        "--ws-boards",
        type=int,
        default=0,
        help="Boards each socket subscribes to (0: all of them, the server caps it at "
        "TASKBOARD_WS_MAX_SUBSCRIPTIONS).",
    )
    add("--rest-weight", type=int, default=3, help="Weight of RestUser in the user mix.")
    add("--ws-weight", type=int, default=1, help="Weight of SocketUser in the user mix.")
    add(
        "--think-min",
        type=float,
        default=1.0,
        help="Seconds a REST user waits between actions, at least.",
    )
    add(
        "--think-max",
        type=float,
        default=4.0,
        help="Seconds a REST user waits between actions, at most.",
    )
    add(
        "--max-tasks-per-board",
        type=int,
        default=1000,
        help="Creates stop on a board once it holds this many tasks (edits go on): the "
        "snapshot every user opens stays a realistic size, and long runs stay under "
        "TASKBOARD_QUOTA_TASKS_PER_BOARD.",
    )
    add(
        "--frame-timeout",
        type=float,
        default=30.0,
        help="Seconds after a write by which every socket of the same Locust process "
        "subscribed to its board must have received its frame (else a write→frame failure).",
    )
    add(
        "--ws-url",
        default="",
        help="The WebSocket endpoint (default: the host's /ws, ws:// or wss://). Set it when "
        "the sockets go elsewhere, e.g. straight to the realtime Service in a cluster.",
    )
    add(
        "--drop-frames-every",
        type=int,
        default=0,
        help="Fault injection: every Nth event frame a socket receives is thrown away before "
        "it is checked, to show that the seq check reports the loss (0: off).",
        include_in_web_ui=False,
    )

    # The shapes (-f loadtests/scenario/shapes.py).
    add(
        "--shape",
        choices=["step", "storm"],
        default=None,
        help="The load shape (with -f loadtests/scenario/shapes.py): users rising in steps "
        "(the default there), or a reconnect storm.",
    )
    add("--step-users", type=int, default=20, help="Users added at each step.")
    add("--step-seconds", type=float, default=60.0, help="Length of a step.")
    add("--steps", type=int, default=5, help="Number of steps.")
    add("--step-rate", type=float, default=10.0, help="Users started per second at a step.")
    add("--storm-users", type=int, default=200, help="Users held during the storm scenario.")
    add("--storm-rate", type=float, default=20.0, help="Users started per second (ramp-up).")
    add(
        "--storm-at",
        type=float,
        default=60.0,
        help="Seconds into the run of the first storm (leave the ramp-up time to finish).",
    )
    add("--storm-every", type=float, default=30.0, help="Seconds between storms.")
    add("--storms", type=int, default=3, help="Number of storms.")
    add(
        "--storm-jitter",
        type=float,
        default=1.0,
        help="Each dropped socket reconnects after a random delay up to this many seconds "
        "(0: all at the same instant).",
    )


def option(environment: Any, name: str, default: Any) -> Any:
    """A scenario argument; `default` where Locust runs without its parser (a library use)."""
    parsed = getattr(environment, "parsed_options", None)
    return getattr(parsed, name, default) if parsed is not None else default
