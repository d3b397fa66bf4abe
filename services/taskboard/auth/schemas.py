from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from taskboard.core.schemas import InputModel, Text


class Credentials(InputModel):
    model_config = ConfigDict(
        extra="forbid",
        str_max_length=100_000,
        json_schema_extra={
            "examples": [{"email": "ada@example.com", "password": "correct horse battery"}]
        },
    )

    email: Text(320, min_length=3)  # type: ignore[valid-type]
    password: Text(256, min_length=1)  # type: ignore[valid-type]


class PasswordChange(InputModel):
    current_password: Text(256, min_length=1)  # type: ignore[valid-type]
    new_password: Text(256, min_length=8)  # type: ignore[valid-type]


class RefreshRequest(InputModel):
    refresh_token: Text(200, min_length=1)  # type: ignore[valid-type]


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme name
    expires_in: int
