from __future__ import annotations

import time
from bisect import bisect_left

from prometheus_client import Counter, Gauge, Histogram

CONNECTIONS = Gauge("taskboard_ws_connections", "Open WebSocket connections")
SUBSCRIPTIONS = Gauge("taskboard_ws_subscriptions", "Live board subscriptions")
FEEDS = Gauge("taskboard_ws_board_feeds", "Boards with at least one local subscriber")
FANNED_OUT = Counter("taskboard_ws_events_fanned_out", "Event frames queued to sockets")
FRAMES_SENT = Counter("taskboard_ws_frames_sent", "Frames written to sockets")
DUPLICATES = Counter("taskboard_ws_duplicate_events", "Stream events dropped as already seen")
GAP_FILLED = Counter("taskboard_ws_gap_filled_events", "Events read from the log to fill gaps")
RESYNCS = Counter("taskboard_ws_resyncs", "Resync messages sent")
SLOW_CONSUMERS = Counter(
    "taskboard_ws_slow_consumer_disconnects", "Sockets closed because their send queue overflowed"
)
COMMIT_TO_SEND = Histogram(
    "taskboard_ws_commit_to_send_seconds",
    "Time from an event's commit-side timestamp to its frame being written",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
STREAM_LAG = Gauge(
    "taskboard_ws_stream_lag_entries", "Stream entries not yet read by this pod", ["shard"]
)


def frames_written(count: int, ts: float | None) -> None:
    """`count` frames just written to sockets, of an event committed at `ts` (epoch seconds;
    None: a control frame). One update per metric however many sockets: per frame, the
    metrics took 6-8 % of the pod's CPU on a hot board (py-spy)."""
    if count <= 0:
        return
    FRAMES_SENT.inc(count)
    if ts is not None:
        observe_many(COMMIT_TO_SEND, max(0.0, time.time() - ts), count)


def observe_many(histogram: Histogram, value: float, count: int) -> None:
    """What `count` calls of `histogram.observe(value)` record, in one update of the sum and
    of one bucket (prometheus_client has no weighted observe; its internals are used, and a
    test holds them to the result of single observations)."""
    try:
        bounds, buckets, total = histogram._upper_bounds, histogram._buckets, histogram._sum
    except AttributeError:  # other internals: one observation at a time
        for _ in range(count):
            histogram.observe(value)
        return
    total.inc(value * count)
    buckets[bisect_left(bounds, value)].inc(count)
