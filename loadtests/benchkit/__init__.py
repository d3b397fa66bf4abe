"""What the benchmarks share: the percentile they report and what they read about the host.

The processes they start come from `taskboard.embedded.processes`, like the tests'.
"""
