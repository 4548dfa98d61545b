"""The base of every HTTP request body: strict, and no text a database cannot store.

Unknown fields are refused (a typo is an error, not silently dropped). No text may hold the NUL
character: PostgreSQL text cannot store it, so it is refused with a 422 that says so, in every string
of the body (lists of strings too); nested bodies check their own fields. The schema says so too: every
free-text string gets the pattern ``^[^\\u0000]*$`` (so Schemathesis sends NUL as invalid input). Each JSON
value is taken in its own type only (``Integer``, ``Number``, ``Boolean``, ``DateTimeText``), as the OpenAPI
promises.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, field_validator

NUL = "\x00"
NUL_PROBLEM = "text may not contain the NUL character (U+0000)"
NO_NUL_PATTERN = "^[^\\u0000]*$"


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, list | tuple | set | frozenset):
        return any(_holds_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    return False


def _no_nul_in_schema(schema: dict[str, Any]) -> None:
    """Give every free-text string among ``schema``'s properties the no-NUL pattern (refs have schemas of their own)."""

    def mark(node: Any) -> None:
        if not isinstance(node, dict) or "$ref" in node:
            return
        if node.get("type") == "string" and not ({"pattern", "format", "enum", "const"} & node.keys()):
            node["pattern"] = NO_NUL_PATTERN
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key, []):
                mark(sub)
        mark(node.get("items"))

    for prop in schema.get("properties", {}).values():
        mark(prop)


def _date_time_text(value: object) -> object:
    # Pydantic would read a JSON number as seconds since 1970; the OpenAPI (format date-time) offers text only.
    if isinstance(value, str | datetime):
        return value
    raise ValueError("a date-time is text with its UTC offset (RFC 3339), e.g. 2026-03-01T09:00:00+02:00")


DateTimeText = Annotated[AwareDatetime, BeforeValidator(_date_time_text)]
"""A date-time in a request body: RFC 3339 text with its UTC offset, nothing else."""


# Pydantic reads a body as Python values, where it would take true for 1, "5" for 5 and 1 for true; the
# OpenAPI promises JSON types, so a request body takes each in its own type only.


def _integer(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError("expected an integer (a JSON number without a fraction)")


def _number(value: object) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise ValueError("expected a number")


def _boolean(value: object) -> object:
    if isinstance(value, bool):
        return value
    raise ValueError("expected true or false")


Integer = BeforeValidator(_integer)
"""Metadata for an integer (or an IntEnum) in a request body: ``Annotated[int, Integer]``."""
Number = BeforeValidator(_number)
"""Metadata for a number in a request body: ``Annotated[float, Number]``."""
Boolean = BeforeValidator(_boolean)
"""Metadata for a boolean in a request body: ``Annotated[bool, Boolean]``."""


class RequestBody(BaseModel):
    """Base of every request body: unknown fields refused, no NUL in any text."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_nul_in_schema)

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_nul(cls, value: Any) -> Any:
        # Nested bodies are RequestBody too and have checked their own fields already.
        if not isinstance(value, BaseModel) and _holds_nul(value):
            raise ValueError(NUL_PROBLEM)
        return value
