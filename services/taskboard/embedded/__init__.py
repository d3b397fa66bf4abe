"""PostgreSQL and Redis run from wheels, for laptops (`taskboard up`), tests and benchmarks.

Production images never import this package: a cluster brings its own databases.
"""
