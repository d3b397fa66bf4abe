"""The docs stay true: every setting is in the README's table."""

from __future__ import annotations

from pathlib import Path

from taskboard.core.config import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [
        f"TASKBOARD_{name.upper()}"
        for name in Settings.model_fields
        if f"`TASKBOARD_{name.upper()}`" not in README
    ]
    assert missing == []
