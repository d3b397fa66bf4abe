"""The docs stay true: every setting is in the README's table, every exclusion of the contract
test is in docs/api.md with its reason."""

from __future__ import annotations

import re
from pathlib import Path

from taskboard.core.config import Settings
from tests.api.test_schemathesis import REFUSALS_NO_SCHEMA_CAN_STATE

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
API = (ROOT / "docs" / "api.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [
        f"TASKBOARD_{name.upper()}"
        for name in Settings.model_fields
        if f"`TASKBOARD_{name.upper()}`" not in README
    ]
    assert missing == []


def test_every_exclusion_of_the_contract_test_is_documented() -> None:
    """docs/api.md's table under "How the contract is tested" names each (field, rule) pair
    that test_schemathesis.py excuses, in one row with its reason, and nothing else."""
    section = API.split("## How the contract is tested", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    named = [set(re.findall(r"`([^`]+)`", row.split(" | ")[0])) for row in rows]
    assert all(row.count(" | ") == 1 and row.split(" | ")[1].strip(" |") for row in rows)
    missing = [
        key for key in REFUSALS_NO_SCHEMA_CAN_STATE if not any(set(key) <= names for names in named)
    ]
    assert missing == []
    words = {word for key in REFUSALS_NO_SCHEMA_CAN_STATE for word in key}
    assert set().union(*named) - words == set()
