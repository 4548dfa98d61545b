"""The reviewer's decision form becomes the API's DecisionIn, and its messages land at the inputs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.review.domain import CHECKLISTS
from services.review.pages import answered_rows, decision_body, decision_input
from services.review.schemas import DecisionIn
from shared.vocabulary import IsoStage
from shared.web.forms import field_problems

ITEMS = CHECKLISTS[IsoStage.CONCEPT]


def test_answered_rows_are_the_feedback_and_unanswered_ones_are_left_out() -> None:
    form = {
        "decision": "request_changes",
        "comment": "Kuulkaa käyttäjiä",
        "met.0": "yes",
        "met.2": "no",
        "comment.2": "ei kuultu",
        "comment.3": "ilman vastausta",
    }
    body = DecisionIn.model_validate(decision_body(form, ITEMS))
    assert [(f.checklist_item, f.met, f.comment) for f in body.feedback] == [
        (ITEMS[0], True, ""),
        (ITEMS[2], False, "ei kuultu"),
    ]


def test_the_apis_messages_land_at_the_decision_the_reasons_and_the_row() -> None:
    form = {"decision": "maybe", "comment": "", "met.1": "no", "comment.1": "x" * 2001}
    with pytest.raises(ValidationError) as refused:
        DecisionIn.model_validate(decision_body(form, ITEMS))
    problems = field_problems(refused.value, decision_input(answered_rows(form, ITEMS)))
    # The only row sent is the form's second: its message is at that row's comment.
    assert set(problems) == {"decision", "comment", "comment.1"}
    assert problems["comment"] == ["String should have at least 1 character"]
