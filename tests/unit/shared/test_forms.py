"""Pages' forms speak the API's language: its messages at their inputs, numbers and date-times as its schemas take
them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.awards.schemas import JuryBody
from shared.errors import Conflict, Invalid, Problem
from shared.web.forms import field_problems, nearest_input, number, utc_datetime


def test_a_schemas_messages_are_keyed_by_the_apis_field_path() -> None:
    with pytest.raises(ValidationError) as caught:
        JuryBody.model_validate(
            {"jurors": [{"user_id": "j", "name": "", "organisation_id": "o", "email": "x"}], "jurors_per_case": "2"}
        )
    problems = field_problems(caught.value)
    assert problems["jurors.0.name"] == ["String should have at least 1 character"]
    assert "not a valid email address" in problems["jurors.0.email"][0]
    assert problems["jurors_per_case"] == ["expected an integer (a JSON number without a fraction)"]


def test_a_use_cases_refusal_by_field_and_without_one_as_the_body() -> None:
    refused = Invalid.of([Problem("scores.0.score", "outside"), Problem("scores.0.score", "again")])
    assert field_problems(refused) == {"scores.0.score": ["outside", "again"]}
    assert field_problems(Invalid("nothing to change")) == {"body": ["nothing to change"]}
    assert field_problems(Conflict("already decided"), lambda path: "anywhere") == {"body": ["already decided"]}


def test_a_page_says_where_each_path_is_shown_and_the_same_message_once() -> None:
    refused = Invalid.of(
        [Problem("jurors.1.email", "bad"), Problem("jurors.1.email", "bad"), Problem("elsewhere", "lost")]
    )
    where = {"jurors.1.email": "juror.1.email"}.get
    assert field_problems(refused, lambda path: where(path, "")) == {"juror.1.email": ["bad"], "body": ["lost"]}


def test_the_nearest_input_is_the_longest_the_path_starts_with() -> None:
    where = nearest_input(("team.0.email", "team", "oecd_principles"))
    assert where("team.0.email") == "team.0.email"
    assert where("team.1.email") == "team"
    assert where("oecd_principles.3") == "oecd_principles"
    assert where("call_id") == ""


@pytest.mark.parametrize(("text", "value"), [("3", 3), (" -2 ", -2), ("1.5", 1.5), ("abc", "abc"), ("", "")])
def test_a_forms_number_is_the_json_number_the_schema_takes_else_the_text(text: str, value: object) -> None:
    assert number(text) == value
    assert type(number(text)) is type(value)


def test_a_datetime_local_is_read_as_utc() -> None:
    assert utc_datetime("2026-12-01T09:30") == "2026-12-01T09:30:00+00:00"
    assert utc_datetime("  ") is None
    assert utc_datetime("2026-12-01T09:30:15+02:00") == "2026-12-01T09:30:15+02:00"
