"""Locust scenario for taskboard: REST users, WebSocket users, the write → frame check and the
load shapes. `loadtests/locustfile.py` (and `loadtests/scenario/shapes.py`) are what `locust -f`
loads; loadtests/README.md says how to run them.

Imported as `loadtests.scenario` (the repository root on `sys.path`), never as a top-level
`locust`: that name is Locust's own."""
