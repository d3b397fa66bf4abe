"""Shared pydantic building blocks: strict input models and text rules every domain uses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, StringConstraints


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _sane_datetime(value: datetime) -> datetime:
    if not 1970 <= value.year <= 9998:
        raise ValueError("must be between years 1970 and 9998")
    return value


def Text(max_length: int, *, min_length: int = 0) -> type[str]:
    return Annotated[  # type: ignore[return-value]
        str,
        StringConstraints(min_length=min_length, max_length=max_length),
        AfterValidator(_no_nul),
    ]


def Name(max_length: int) -> type[str]:
    """A required one-line name: stripped, non-empty."""
    return Annotated[  # type: ignore[return-value]
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length),
        AfterValidator(_no_nul),
    ]


Timestamp = Annotated[AwareDatetime, AfterValidator(_sane_datetime)]


class InputModel(BaseModel):
    """Request bodies: unknown fields are refused, strings are checked for NUL."""

    model_config = ConfigDict(extra="forbid", str_max_length=100_000)


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
