"""The submitter's forms become the API's own bodies, and the API's messages land at the inputs they are about."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from services.intake.pages import REVISION_FIELDS, case_body, case_input, revision_body
from services.intake.schemas import CaseIn, RevisionIn
from shared.errors import Conflict, Invalid, Problem
from shared.web.forms import field_problems, nearest_input

CALL = uuid.uuid4()
FORM = {
    "title": "Ajanvaraus yhdellä viestillä",
    "summary": "Ajanvaraus yhdellä viestillä koko kunnan palveluihin.",
    "problem": "Kunnan asukkaat odottavat palveluja liian kauan joka vuosi.",
    "solution": "Yksi jono, yksi viesti: asukas saa ajan tekstiviestillä.",
    "organisation.name": "Esimerkkikaupunki",
    "organisation.business_id": "0112038-9",
    "team.0.name": "Maija",
    "team.0.email": "maija@example.fi",
    "team.0.role": "",
    "team.1.name": "",
    "team.1.email": "",
    "category": "public_sector",
    "language": "fi",
    "iso_stage": "concept",
    "drivers": "asukaspalaute\n\n  säästöt  \n",
    "obstacles": "",
}


def _problems(form: dict[str, str], principles: list[str]) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as refused:
        CaseIn.model_validate(case_body(form, {"oecd_principles": principles}, call_id=CALL))
    return field_problems(refused.value, case_input(form))


def test_a_filled_form_is_the_apis_body_with_empty_team_rows_left_out_and_one_driver_a_line() -> None:
    body = CaseIn.model_validate(case_body(FORM, {"oecd_principles": ["1", "3"]}, call_id=CALL))
    assert [c.name for c in body.team] == ["Maija"]
    assert body.team[0].role is None and body.team[0].language == "fi"
    assert body.drivers == ["asukaspalaute", "säästöt"]
    assert [int(p) for p in body.oecd_principles] == [1, 3]
    assert body.organisation.business_id == "0112038-9"


def test_the_apis_messages_land_at_their_inputs() -> None:
    form = {**FORM, "organisation.business_id": "0112038-8", "team.0.email": "not an email", "title": "x"}
    problems = _problems(form, ["1", "1"])
    assert problems["organisation.business_id"] == ["business ID '0112038-8' has a wrong check digit (expected 9)"]
    assert "team.0.email" in problems
    assert problems["title"] == ["String should have at least 5 characters"]
    assert problems["oecd_principles"] == ["each OECD principle may be listed only once; repeated: 1"]
    assert "" not in problems


def test_no_principle_ticked_is_said_at_the_principles() -> None:
    assert list(_problems(FORM, [])) == ["oecd_principles"]


def test_a_problem_of_no_input_is_kept_for_above_the_form() -> None:
    with pytest.raises(ValidationError) as refused:
        CaseIn.model_validate(case_body(FORM, {"oecd_principles": ["1"]}, call_id=CALL) | {"call_id": "bad"})
    assert list(field_problems(refused.value, case_input(FORM))) == ["body"]


def test_a_use_cases_refusal_is_shown_at_its_input_or_else_above_the_form() -> None:
    where = nearest_input(REVISION_FIELDS)
    refused = Invalid.of([Problem("addresses.1", "not a point of this case")])
    assert field_problems(refused, where) == {"addresses": ["not a point of this case"]}
    duplicate = Conflict("a case with this title exists")
    assert field_problems(duplicate, where) == {"body": ["a case with this title exists"]}


def test_a_revision_sends_only_the_texts_changed_and_the_points_ticked() -> None:
    point = str(uuid.uuid4())
    form = {
        "title": "Sama otsikko",
        "was.title": "Sama otsikko",
        "solution": "Uusi ratkaisu, jossa mittarit ovat.",
        "was.solution": "Vanha",
        "change_note": "Mittarit",
    }
    body = RevisionIn.model_validate(revision_body(form, {"addresses": [point]}))
    assert body.title is None
    assert body.solution == "Uusi ratkaisu, jossa mittarit ovat."
    assert [str(a) for a in body.addresses] == [point]
    with pytest.raises(ValidationError) as refused:
        RevisionIn.model_validate(revision_body({"summary": "lyhyt", "was.summary": "x"}, {"addresses": ["nope"]}))
    assert set(field_problems(refused.value, nearest_input(REVISION_FIELDS))) == {"summary", "addresses"}


def test_partner_rows_are_the_apis_partners_in_the_cases_language_and_empty_rows_are_no_one() -> None:
    form = {
        **FORM,
        "partners.0.name": "Esimerkkisäätiö",
        "partners.0.email": "info@saatio.example.fi",
        "partners.0.role": "rahoittaja",
        "partners.1.name": "",
        "partners.1.email": "",
        "partners.1.role": "",
    }
    body = CaseIn.model_validate(case_body(form, {"oecd_principles": ["2"]}, call_id=CALL))
    assert [(p.name, p.email, p.role, p.language) for p in body.partners] == [
        ("Esimerkkisäätiö", "info@saatio.example.fi", "rahoittaja", "fi")
    ]
    assert CaseIn.model_validate(case_body(FORM, {"oecd_principles": ["2"]}, call_id=CALL)).partners == []


def test_a_partners_messages_land_at_that_partners_inputs() -> None:
    # Only the second row is filled: it is the body's first partner, and its messages are at the second row.
    form = {**FORM, "partners.1.email": "ei sähköposti", "partners.1.role": "kumppani"}
    problems = _problems(form, ["2"])
    assert set(problems) == {"partners.1.name", "partners.1.email"}
    assert "not a valid email address" in problems["partners.1.email"][0]
    form = {**form, "partners.0.name": "Säätiö", "partners.0.email": "info@saatio.example.fi"}
    assert set(_problems(form, ["2"])) == {"partners.1.name", "partners.1.email"}


def test_a_team_members_message_lands_at_the_row_it_was_typed_in() -> None:
    form = {**FORM, "team.0.name": "", "team.0.email": "", "team.2.name": "Ville", "team.2.email": "ville@"}
    assert set(_problems(form, ["2"])) == {"team.2.email"}
