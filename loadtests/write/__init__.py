"""The parts of the write-path benchmark (`loadtests/bench_write.py` runs them in order).

- `system`: the system under test (embedded PostgreSQL and Redis, `taskboard api`);
- `load_http`: the HTTP load generators (creates, snapshot GETs);
- `load_sql`: the create transaction straight over asyncpg, the baseline;
- `snapshot_board`: the large board the snapshot phases read;
- `pglog`: what PostgreSQL's log tells (the SQL of one create, connections opened);
- `measure`: a timed phase with the CPU of each component (and py-spy stacks);
- `report`: a phase's figures, the targets and the JSON report.
"""
