from __future__ import annotations

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
