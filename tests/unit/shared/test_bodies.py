"""Request bodies refuse what the OpenAPI does not offer: NUL in text, unknown fields, a JSON value of another type."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field, ValidationError

from shared.bodies import NO_NUL_PATTERN, NUL_PROBLEM, Boolean, DateTimeText, Integer, Number, RequestBody


class Member(RequestBody):
    name: str
    tags: list[str] = Field(default_factory=list)


class Panel(RequestBody):
    title: str = Field(max_length=50)
    note: str | None = None
    members: list[Member] = Field(default_factory=list)
    size: Annotated[int, Integer] = 1
    weight: Annotated[float, Number] = 1.0
    open: Annotated[bool, Boolean] = True
    opens_at: DateTimeText | None = None


def problems(data: dict[str, object]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as refused:
        Panel.model_validate(data)
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in refused.value.errors()]


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"title": "a\x00b"}, "title"),
        ({"title": "ok", "note": "\x00"}, "note"),
        ({"title": "ok", "members": [{"name": "Ann\x00"}]}, "members.0.name"),
        ({"title": "ok", "members": [{"name": "Ann", "tags": ["x", "y\x00"]}]}, "members.0.tags"),
    ],
)
def test_nul_is_refused_in_every_text_where_it_is(data: dict[str, object], where: str) -> None:
    assert problems(data) == [(where, f"Value error, {NUL_PROBLEM}")]


def test_text_without_nul_passes() -> None:
    panel = Panel.model_validate({"title": "Jury ä", "members": [{"name": "Ann", "tags": ["x"]}]})
    assert panel.members[0].name == "Ann"


def test_unknown_fields_are_refused() -> None:
    assert problems({"title": "ok", "colour": "red"})[0][0] == "colour"


@pytest.mark.parametrize(
    ("field", "value"),
    [("size", True), ("size", "3"), ("size", 2.5), ("weight", False), ("weight", "1.5"), ("open", 1), ("open", "true")],
)
def test_each_json_type_is_taken_in_its_own_type_only(field: str, value: object) -> None:
    assert [where for where, _ in problems({"title": "ok", field: value})] == [field]


def test_a_date_time_is_text_not_seconds_since_1970() -> None:
    assert [where for where, _ in problems({"title": "ok", "opens_at": 0})] == ["opens_at"]
    assert Panel.model_validate({"title": "ok", "opens_at": "2026-03-01T09:00:00+02:00"}).opens_at is not None


def test_the_schema_says_text_may_not_hold_nul() -> None:
    schema = Panel.model_json_schema()
    assert schema["properties"]["title"]["pattern"] == NO_NUL_PATTERN
    assert schema["properties"]["note"]["anyOf"][0]["pattern"] == NO_NUL_PATTERN
    assert schema["$defs"]["Member"]["properties"]["tags"]["items"]["pattern"] == NO_NUL_PATTERN
    assert "pattern" not in schema["properties"]["opens_at"]["anyOf"][0]  # a date-time has its own format
