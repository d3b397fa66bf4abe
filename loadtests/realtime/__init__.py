"""The parts of the realtime benchmark (`loadtests/bench_realtime.py` runs the scenarios).

- `system`: the system under test (embedded PostgreSQL and Redis, `taskboard api`,
  `realtime` and `relay` as real processes);
- `subscribers`: the load-generator processes that hold the subscriber sockets.
"""
