from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import ConfigDict, EmailStr, field_validator

from taskboard.core.schemas import InputModel, Name, NotNull, OutputModel, Text

_ZONES = frozenset(available_timezones()) | {"UTC"}


def _zone(value: str) -> str:
    if value not in _ZONES:
        raise ValueError("must be an IANA time zone such as Europe/Berlin")
    return value


class UserRead(OutputModel):
    id: uuid.UUID
    email: str
    display_name: str
    time_zone: str
    site_role: Literal["admin", "user"]
    created_at: datetime


class UserPublic(OutputModel):
    id: uuid.UUID
    display_name: str


class UserUpdate(InputModel):
    display_name: Annotated[Name(100), NotNull] = None  # type: ignore[valid-type]
    time_zone: Annotated[str, NotNull] = None  # type: ignore[assignment]

    _check_zone = field_validator("time_zone")(_zone)


class Registration(InputModel):
    model_config = ConfigDict(
        extra="forbid",
        str_max_length=100_000,
        json_schema_extra={
            "examples": [
                {
                    "email": "ada@example.com",
                    "password": "correct horse battery",
                    "display_name": "Ada",
                    "time_zone": "Europe/London",
                }
            ]
        },
    )

    email: EmailStr
    password: Text(256, min_length=8)  # type: ignore[valid-type]
    display_name: Name(100)  # type: ignore[valid-type]
    time_zone: str = "UTC"

    _check_zone = field_validator("time_zone")(_zone)
