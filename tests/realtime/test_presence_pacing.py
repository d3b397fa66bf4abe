"""Presence frames are paced by the board's size on the pod: a small board hears of a viewer
within COALESCE_SECONDS, a large one costs the pod a bounded number of frames a second while
viewers churn (a reconnect storm), and no viewer waits longer than MAX_COALESCE_SECONDS."""

from __future__ import annotations

from taskboard.realtime.presence import (
    COALESCE_SECONDS,
    MAX_COALESCE_SECONDS,
    MAX_PRESENCE_FRAMES_PER_SECOND,
    coalesce_seconds,
)


def test_small_boards_keep_the_short_interval() -> None:
    for sockets in (0, 1, 10, 100):
        assert coalesce_seconds(sockets) == COALESCE_SECONDS


def test_frames_per_second_per_board_stay_bounded_while_the_interval_allows() -> None:
    limit = int(MAX_PRESENCE_FRAMES_PER_SECOND * MAX_COALESCE_SECONDS)
    for sockets in range(1, limit + 1):
        # One frame to each socket per interval, at most.
        assert sockets / coalesce_seconds(sockets) <= MAX_PRESENCE_FRAMES_PER_SECOND + 1e-9


def test_the_interval_grows_with_the_board_and_is_capped() -> None:
    intervals = [coalesce_seconds(n) for n in range(0, 20_000, 50)]
    assert intervals == sorted(intervals)
    assert intervals[-1] == MAX_COALESCE_SECONDS
    assert coalesce_seconds(1_000) > coalesce_seconds(200) > COALESCE_SECONDS
