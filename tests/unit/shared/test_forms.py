"""Pages' forms speak the API's language: its messages by field, numbers and date-times as its schemas take them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.awards.schemas import JuryBody
from shared.errors import Invalid, Problem
from shared.web.forms import number, refused_problems, utc_datetime, validation_problems


def test_a_schemas_messages_are_keyed_by_the_apis_field_path() -> None:
    with pytest.raises(ValidationError) as caught:
        JuryBody.model_validate(
            {"jurors": [{"user_id": "j", "name": "", "organisation_id": "o", "email": "x"}], "jurors_per_case": "2"}
        )
    problems = validation_problems(caught.value)
    assert problems["jurors.0.name"] == "String should have at least 1 character"
    assert "not a valid email address" in problems["jurors.0.email"]
    assert problems["jurors_per_case"] == "expected an integer (a JSON number without a fraction)"


def test_a_use_cases_refusal_by_field_and_without_one_as_the_body() -> None:
    refused = Invalid.of([Problem("scores.0.score", "outside"), Problem("scores.0.score", "again")])
    assert refused_problems(refused) == {"scores.0.score": "outside"}
    assert refused_problems(Invalid("nothing to change")) == {"body": "nothing to change"}


@pytest.mark.parametrize(("text", "value"), [("3", 3), (" -2 ", -2), ("1.5", 1.5), ("abc", "abc"), ("", "")])
def test_a_forms_number_is_the_json_number_the_schema_takes_else_the_text(text: str, value: object) -> None:
    assert number(text) == value
    assert type(number(text)) is type(value)


def test_a_datetime_local_is_read_as_utc() -> None:
    assert utc_datetime("2026-12-01T09:30") == "2026-12-01T09:30:00+00:00"
    assert utc_datetime("  ") is None
    assert utc_datetime("2026-12-01T09:30:15+02:00") == "2026-12-01T09:30:15+02:00"
