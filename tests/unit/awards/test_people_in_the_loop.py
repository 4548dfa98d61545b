"""What jurors and operators are told, as pure rules: scoring deadlines, when a reminder is due, when a call's
evaluation is complete, and whom a notice to a juror addresses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.awards import domain
from services.awards.domain import Completion, JurorProfile, Jury, ScoringProgress
from shared.events import Person
from shared.vocabulary import Language

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
HELSINKI = timezone(timedelta(hours=2))
DAY = timedelta(days=1)


# --------------------------------------------------------------------------- the deadline of an assignment


def test_the_jurys_deadline_is_every_assignments_deadline() -> None:
    deadline = datetime(2026, 11, 30, 16, 0, tzinfo=HELSINKI)
    for assigned_at in (NOW, deadline - DAY, deadline + DAY):  # also a replacement assigned after the deadline
        due = domain.scoring_due_at(jury_deadline=deadline, assigned_at=assigned_at, scoring_period=14 * DAY)
        assert due == deadline


def test_without_a_jury_deadline_a_juror_gets_the_scoring_period_from_their_assignment() -> None:
    assert domain.scoring_due_at(jury_deadline=None, assigned_at=NOW, scoring_period=14 * DAY) == NOW + 14 * DAY
    half_a_day = timedelta(days=0.5)  # fractions allowed
    assert domain.scoring_due_at(jury_deadline=None, assigned_at=NOW, scoring_period=half_a_day) == NOW + 12 * (
        DAY / 24
    )


def test_jurors_assigned_together_are_told_the_earliest_of_their_deadlines() -> None:
    assert domain.earliest_deadline([NOW]) == NOW
    assert domain.earliest_deadline([NOW + DAY, NOW, NOW + 2 * DAY]) == NOW
    # Instants are compared, whatever their offset: 10:00+02:00 is 08:00Z, before 09:00Z.
    earlier = datetime(2026, 11, 2, 10, 0, tzinfo=HELSINKI)
    assert domain.earliest_deadline([NOW, earlier]) == earlier
    with pytest.raises(ValueError, match="no juror was assigned"):
        domain.earliest_deadline([])


# --------------------------------------------------------------------------- when a reminder is due


@pytest.mark.parametrize(
    ("due_in", "lead", "due"),
    [
        (10 * DAY, 3 * DAY, False),  # long before the reminder window
        (3 * DAY + timedelta(seconds=1), 3 * DAY, False),  # a second before it opens
        (3 * DAY, 3 * DAY, True),  # the window opens: now == due_at - lead
        (DAY, 3 * DAY, True),  # inside it
        (timedelta(0), 3 * DAY, True),  # the deadline itself
        (-DAY, 3 * DAY, True),  # overdue and never reminded: still reminded
        (timedelta(days=0.5), timedelta(days=0.25), False),  # fractions of days
        (timedelta(days=0.25), timedelta(days=0.25), True),
        (timedelta(seconds=1), timedelta(0), False),  # no lead: reminded from the deadline on
        (timedelta(0), timedelta(0), True),
    ],
)
def test_a_reminder_is_due_from_lead_before_the_deadline_on(due_in: timedelta, lead: timedelta, due: bool) -> None:
    assert domain.reminder_due(due_at=NOW + due_in, now=NOW, lead=lead) is due


def test_the_repository_asks_for_deadlines_up_to_now_plus_the_lead() -> None:
    until = domain.reminders_due_until(now=NOW, lead=3 * DAY)
    assert until == NOW + 3 * DAY
    assert domain.reminder_due(due_at=until, now=NOW, lead=3 * DAY)
    assert not domain.reminder_due(due_at=until + timedelta(microseconds=1), now=NOW, lead=3 * DAY)


# --------------------------------------------------------------------------- when a call's evaluation is complete


def progress(assigned: set[str], scored: set[str]) -> ScoringProgress:
    return ScoringProgress(assigned=frozenset(assigned), scored=frozenset(scored))


FULLY_SCORED = progress({"j1", "j2"}, {"j1", "j2"})
HALF_SCORED = progress({"j1", "j2"}, {"j2"})
NOBODY_ASSIGNED = progress(set(), set())


@pytest.mark.parametrize(
    ("open_evaluations", "complete"),
    [
        ([], False),  # nothing open: nothing to decide, nothing to tell
        ([NOBODY_ASSIGNED], False),  # not decidable: no juror (ensure_decidable's rule)
        ([progress({"j1"}, set())], False),
        ([HALF_SCORED], False),
        ([FULLY_SCORED], True),
        ([progress({"j1"}, {"j1"})], True),
        ([FULLY_SCORED, HALF_SCORED], False),  # one case still waits
        ([FULLY_SCORED, NOBODY_ASSIGNED], False),
        ([FULLY_SCORED, progress({"j3"}, {"j3"})], True),
    ],
)
def test_a_calls_evaluation_is_complete_when_every_open_evaluation_is_decidable(
    open_evaluations: list[ScoringProgress], complete: bool
) -> None:
    assert domain.evaluation_complete(open_evaluations) is complete
    assert all(
        domain.is_decidable(p.assigned, p.scored) is (p.assigned <= p.scored and bool(p.assigned))
        for p in open_evaluations
    )


@pytest.mark.parametrize(
    ("was_complete", "is_complete", "change"),
    [
        (False, True, Completion.REACHED),  # the one moment the operators are told
        (True, True, Completion.UNCHANGED),  # a resubmitted score, a decision: told already
        (True, False, Completion.LOST),  # a late nomination, a replacement juror: it can be reached again
        (False, False, Completion.UNCHANGED),
    ],
)
def test_completion_is_news_only_when_reached(was_complete: bool, is_complete: bool, change: Completion) -> None:
    assert domain.completion(was_complete=was_complete, is_complete=is_complete) is change


# --------------------------------------------------------------------------- whom a notice to a juror addresses


def test_a_juror_is_addressed_as_the_panel_describes_them() -> None:
    jury = Jury(
        jurors=(
            JurorProfile("j1", "Johanna", "org-a", email="johanna@example.org", language=Language.FI),
            JurorProfile("j2", "Sven", "org-b", language=Language.SV),
        )
    )
    assert domain.addressee(jury, "j1") == Person(
        user_id="j1", name="Johanna", email="johanna@example.org", language=Language.FI
    )
    assert domain.addressee(jury, "j2") == Person(user_id="j2", name="Sven", email=None, language=Language.SV)


def test_a_juror_no_longer_on_the_panel_is_known_by_their_user_id_only() -> None:
    jury = Jury(jurors=(JurorProfile("j1", "Johanna", "org-a", email="johanna@example.org"),))
    assert domain.addressee(jury, "gone") == Person(user_id="gone")
    assert domain.addressee(None, "j1") == Person(user_id="j1")


def test_a_jurors_language_defaults_to_english() -> None:
    assert JurorProfile("j1", "J", "org").language is Language.EN
