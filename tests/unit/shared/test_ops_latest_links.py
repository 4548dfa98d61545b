"""The dashboard's latest events link what each is about: a case to its timeline, a call to its page."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from shared.events import (
    EVENT_TYPES,
    CallAnnouncedV1,
    CaseRevisedV1,
    CaseSubmittedV1,
    DeadLetteredV1,
    EvaluationCompleteV1,
)
from shared.repository import HandledEvent
from shared.web.ops import _subject_url

INTAKE = "http://intake.example"
SUBJECT = uuid.UUID("00000000-0000-4000-8000-000000000001")


def _handled(event_type: str, subject: str | None) -> HandledEvent:
    return HandledEvent(uuid.uuid4(), event_type, datetime(2027, 1, 1, tzinfo=UTC), subject, "corr")


@pytest.mark.parametrize(
    ("event_type", "subject", "url"),
    [
        (CaseSubmittedV1.event_type, str(SUBJECT), f"{INTAKE}/cases/{SUBJECT}"),
        (CallAnnouncedV1.event_type, str(SUBJECT), f"{INTAKE}/operator/calls/{SUBJECT}"),
        (EvaluationCompleteV1.event_type, str(SUBJECT), f"{INTAKE}/operator/calls/{SUBJECT}"),
        (DeadLetteredV1.event_type, "intake", None),  # a service: nothing to link
        (CaseSubmittedV1.event_type, None, None),  # claimed before the inbox kept subjects
        (CaseSubmittedV1.event_type, "not-a-uuid", None),
        ("kipina.unknown.v1", str(SUBJECT), None),
    ],
)
def test_each_event_links_what_it_is_about(event_type: str, subject: str | None, url: str | None) -> None:
    assert _subject_url(INTAKE, _handled(event_type, subject)) == url


def test_only_the_events_about_something_else_than_a_case_say_so() -> None:
    # A new event whose subject() is not its case must declare its subject_kind, or its link goes to a case page.
    not_cases = {t: c.subject_kind for t, c in EVENT_TYPES.items() if c.subject_kind != "case"}
    assert not_cases == {
        CallAnnouncedV1.event_type: "call",
        EvaluationCompleteV1.event_type: "call",
        DeadLetteredV1.event_type: "service",
    }
    # Every class that names its subject itself has been looked at: these two name their case's snapshot's id.
    overriding = {t for t, c in EVENT_TYPES.items() if "subject" in vars(c)}
    assert overriding == set(not_cases) | {CaseSubmittedV1.event_type, CaseRevisedV1.event_type}
