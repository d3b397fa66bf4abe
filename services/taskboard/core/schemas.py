"""Shared pydantic building blocks: strict input models and text rules every domain uses.

Each rule the validators enforce is also written into the JSON Schema (a pattern beside the
length limits), so that a request the published document calls valid is one the API accepts:
generated clients and schemathesis hold the API to that."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

# PostgreSQL text cannot hold NUL. (Python's and ECMAScript's regex both read \u0000.)
NO_NUL_PATTERN = r"^[^\u0000]*$"
# What str.strip() removes, spelled out: JSON Schema patterns are ECMAScript, whose \s is
# another set (it lacks \x1c-\x1f and \x85, adds \ufeff).
SPACE_CLASS = r"\t-\r\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# A name: no NUL and something besides whitespace.
NAME_PATTERN = rf"^[{SPACE_CLASS}]*[^{SPACE_CLASS}\u0000][^\u0000]*$"
# Years 1970 to 9998 as written (the offset applied, any instant stays within datetime's range).
YEAR_PATTERN = r"^(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-"


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _name(value: str) -> str:
    value = _no_nul(value).strip()
    if not value:
        raise PydanticCustomError("blank", "must not be blank")
    return value


# What pydantic's date-time parser would read as a Unix time rather than refuse.
_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def _not_a_unix_time(value: Any) -> Any:
    if isinstance(value, (int, float)) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise PydanticCustomError("datetime_type", "must be a date-time string, not a number")
    return value


def _a_json_number(code: str, message: str) -> BeforeValidator:
    """Refuse strings and booleans where JSON has a number."""

    def check(value: Any) -> Any:
        if isinstance(value, (str, bool)):
            raise PydanticCustomError(code, message)
        return value

    return BeforeValidator(check)


def _sane_datetime(value: datetime) -> datetime:
    if not 1970 <= value.year <= 9998:
        raise ValueError("must be between years 1970 and 9998")
    return value


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError("not_null", "must not be null")
    return value


def Text(max_length: int, *, min_length: int = 0) -> type[str]:
    return Annotated[  # type: ignore[return-value]
        str,
        StringConstraints(min_length=min_length, max_length=max_length),
        AfterValidator(_no_nul),
        Field(json_schema_extra={"pattern": NO_NUL_PATTERN}),
    ]


def Name(max_length: int) -> type[str]:
    """A required one-line name: stripped, not blank."""
    return Annotated[  # type: ignore[return-value]
        str,
        StringConstraints(min_length=1, max_length=max_length),
        AfterValidator(_name),
        Field(json_schema_extra={"pattern": NAME_PATTERN}),
    ]


# JSON's types as the document states them. Left to pydantic's lax mode, "yes", 1 or 0.0 would
# be a boolean, "5" or true an integer, 0 or "1700000000" a timestamp (a Unix time): values the
# document calls invalid, so no client it generates sends them, and the API refuses them.
# IsInteger goes after an integer's constraints (`Annotated[int, Field(ge=1), IsInteger]`);
# before them, the JSON Schema would say `ge` instead of `minimum`.
Flag = Annotated[bool, Strict()]
IsInteger = _a_json_number("int_type", "must be an integer")
Number = Annotated[float, _a_json_number("float_type", "must be a number")]

Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_not_a_unix_time),
    AfterValidator(_sane_datetime),
    Field(json_schema_extra={"pattern": YEAR_PATTERN}),
]

# A PATCH field that may be left out (unchanged) but never set to null: `x: Annotated[T,
# NotNull] = None`. The document lists it as plain T, not T-or-null, since null is refused.
NotNull = BeforeValidator(_refuse_null)


class InputModel(BaseModel):
    """Request bodies: unknown fields are refused, strings are checked for NUL."""

    model_config = ConfigDict(extra="forbid", str_max_length=100_000)


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
