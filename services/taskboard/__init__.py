"""taskboard: a real-time collaborative task board."""

__version__ = "0.1.0"
