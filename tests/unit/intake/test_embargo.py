"""The embargo in intake: what a case's submitter and an operator may see of a case and its timeline."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from services.intake import domain
from services.intake.domain import (
    CaseProgress,
    CaseStatus,
    StoredCase,
    TimelineItem,
    TimelineKind,
    Viewer,
    apply_event,
    seen_by,
    shown_status,
    statuses_shown_as,
    viewer_of,
)
from shared.events import (
    AwardDecidedV1,
    CaseSnapshot,
    Contact,
    Criterion,
    EvaluationOpenedV1,
    Organisation,
    ResultsPublishedV1,
)
from shared.vocabulary import AwardOutcome, Category, IsoStage, Language, Role

CASE = uuid.uuid4()
CALL = uuid.uuid4()
NOW = datetime(2025, 11, 13, 9, tzinfo=UTC)  # World Quality Day
SECRET_FEEDBACK = "An outstanding, well-evidenced innovation."

# What each status reads as to each viewer; every status appears once per viewer.
SHOWN: dict[Viewer, dict[CaseStatus, CaseStatus]] = {
    Viewer.OPERATOR: {status: status for status in CaseStatus},
    Viewer.SUBMITTER: {status: status for status in CaseStatus} | {CaseStatus.DECIDED: CaseStatus.IN_EVALUATION},
}


def a_case(status: CaseStatus, *, outcome: AwardOutcome | None = None, feedback: str | None = None) -> StoredCase:
    snapshot = CaseSnapshot(
        case_id=CASE,
        call_id=CALL,
        call_title="QIA",
        revision=2,
        title="Smart library lending",
        summary="Libraries lend tools.",
        problem="Residents buy tools they use once.",
        solution="A self-service lending app.",
        organisation=Organisation(id="org", name="City of Espoo", business_id="0101263-6"),
        submitter_id="alice",
        submitter=Contact(name="Alice", email="alice@example.org"),
        category=Category.PUBLIC_SECTOR,
        language=Language.FI,
        iso_stage=IsoStage.VALIDATION,
    )
    progress = CaseProgress(status=status, stage=IsoStage.SOLUTION, iteration=2, outcome=outcome, feedback=feedback)
    return StoredCase(snapshot=snapshot, progress=progress, request_fingerprint=None, created_at=NOW, updated_at=NOW)


def item(kind: TimelineKind, **details: object) -> TimelineItem:
    return TimelineItem(at=NOW, kind=kind, summary=kind, details=dict(details))


TIMELINE = [
    item(TimelineKind.SUBMITTED, revision=1),
    item(TimelineKind.EVALUATION_OPENED, jurors=2),
    item(TimelineKind.DECIDED, outcome="finalist", feedback=SECRET_FEEDBACK, weighted_score=4.2, rank=1),
    item(TimelineKind.RESULTS_PUBLISHED, outcome="finalist", feedback=SECRET_FEEDBACK),
]


# --------------------------------------------------------------------------- statuses


@pytest.mark.parametrize("viewer", list(Viewer))
@pytest.mark.parametrize("status", list(CaseStatus))
def test_the_status_each_viewer_is_shown(viewer: Viewer, status: CaseStatus) -> None:
    assert shown_status(viewer, status) is SHOWN[viewer][status]
    case = a_case(status)
    assert seen_by(viewer, case)[0].progress.status is SHOWN[viewer][status]


def test_a_submitter_is_never_shown_decided() -> None:
    assert {shown_status(Viewer.SUBMITTER, s) for s in CaseStatus} == set(CaseStatus) - {CaseStatus.DECIDED}


@pytest.mark.parametrize("viewer", list(Viewer))
@pytest.mark.parametrize("shown", list(CaseStatus))
def test_filtering_by_status_matches_what_the_viewer_is_shown(viewer: Viewer, shown: CaseStatus) -> None:
    """A list filtered by a status holds exactly the cases the viewer sees with that status."""
    assert statuses_shown_as(viewer, shown) == {s for s in CaseStatus if SHOWN[viewer][s] is shown}


def test_a_submitter_filtering_for_in_evaluation_also_gets_decided_cases_and_for_decided_none() -> None:
    assert statuses_shown_as(Viewer.SUBMITTER, CaseStatus.IN_EVALUATION) == {
        CaseStatus.IN_EVALUATION,
        CaseStatus.DECIDED,
    }
    assert statuses_shown_as(Viewer.SUBMITTER, CaseStatus.DECIDED) == frozenset()
    assert statuses_shown_as(Viewer.OPERATOR, CaseStatus.DECIDED) == {CaseStatus.DECIDED}


# --------------------------------------------------------------------------- outcome and feedback


@pytest.mark.parametrize("status", list(CaseStatus))
def test_a_submitter_sees_outcome_and_feedback_only_once_published(status: CaseStatus) -> None:
    # Outcome and feedback may be stored with any status: a decided case may be withdrawn during the embargo.
    case = a_case(status, outcome=AwardOutcome.FINALIST, feedback=SECRET_FEEDBACK)
    shown, _ = seen_by(Viewer.SUBMITTER, case)
    if status is CaseStatus.PUBLISHED:
        assert (shown.progress.outcome, shown.progress.feedback) == (AwardOutcome.FINALIST, SECRET_FEEDBACK)
    else:
        assert (shown.progress.outcome, shown.progress.feedback) == (None, None)


@pytest.mark.parametrize("status", list(CaseStatus))
def test_an_operator_sees_the_case_as_stored(status: CaseStatus) -> None:
    case = a_case(status, outcome=AwardOutcome.FINALIST, feedback=SECRET_FEEDBACK)
    assert seen_by(Viewer.OPERATOR, case, TIMELINE) == (case, TIMELINE)


@pytest.mark.parametrize("status", list(CaseStatus))
def test_the_embargo_changes_nothing_but_status_outcome_and_feedback(status: CaseStatus) -> None:
    case = a_case(status, outcome=AwardOutcome.FINALIST, feedback=SECRET_FEEDBACK)
    shown, _ = seen_by(Viewer.SUBMITTER, case)
    assert replace(shown, progress=case.progress) == case
    assert (shown.progress.stage, shown.progress.iteration) == (case.progress.stage, case.progress.iteration)


# --------------------------------------------------------------------------- timeline


@pytest.mark.parametrize("status", list(CaseStatus))
def test_a_submitter_never_sees_the_decision_entries(status: CaseStatus) -> None:
    _, timeline = seen_by(Viewer.SUBMITTER, a_case(status), TIMELINE)
    assert [t.kind for t in timeline] == [
        TimelineKind.SUBMITTED,
        TimelineKind.EVALUATION_OPENED,
        TimelineKind.RESULTS_PUBLISHED,
    ]
    assert all("weighted_score" not in t.details and "rank" not in t.details for t in timeline)


def test_only_the_decision_entries_are_hidden() -> None:
    assert {TimelineKind.DECIDED} == domain.SUBMITTER_HIDDEN_ENTRIES


# --------------------------------------------------------------------------- who is which viewer


@pytest.mark.parametrize(
    ("roles", "viewer"),
    [
        ({Role.OPERATOR}, Viewer.OPERATOR),
        ({Role.OPERATOR, Role.SUBMITTER}, Viewer.OPERATOR),
        ({Role.SUBMITTER}, Viewer.SUBMITTER),
        ({Role.JUROR}, Viewer.SUBMITTER),  # a juror reading a case of their own reads it as its submitter
        ({Role.REVIEWER, Role.SUBMITTER}, Viewer.SUBMITTER),
        (set(), Viewer.SUBMITTER),
    ],
)
def test_viewer_of_roles(roles: set[Role], viewer: Viewer) -> None:
    assert viewer_of(roles) is viewer


# --------------------------------------------------------------------------- a case through the embargo


def test_nothing_of_the_decision_reaches_the_submitter_until_publication() -> None:
    """Events applied as intake applies them; the submitter's view checked after each."""
    decided = AwardDecidedV1(
        case_id=CASE,
        call_id=CALL,
        outcome=AwardOutcome.FINALIST,
        weighted_score=4.321,
        rank_in_category=7,
        feedback=SECRET_FEEDBACK,
    )
    changed = decided.model_copy(update={"outcome": AwardOutcome.AWARD_WINNER, "feedback": "Changed: the winner."})
    published = ResultsPublishedV1(
        case_id=CASE, call_id=CALL, outcome=AwardOutcome.AWARD_WINNER, feedback="Changed: the winner."
    )
    opened = EvaluationOpenedV1(
        case_id=CASE, call_id=CALL, criteria=[Criterion(key="novelty", name="Novelty", weight=1)], juror_ids=["j"]
    )
    case = a_case(CaseStatus.NOMINATED)
    timeline: list[TimelineItem] = []

    def apply(payload: EvaluationOpenedV1 | AwardDecidedV1 | ResultsPublishedV1) -> str:
        nonlocal case
        transition = apply_event(case.progress, payload)
        assert transition.applied
        case = replace(case, progress=transition.progress)
        e = transition.entry
        timeline.append(TimelineItem(at=NOW, kind=e.kind, summary=e.summary, iteration=e.iteration, details=e.details))
        return repr(seen_by(Viewer.SUBMITTER, case, timeline))

    for payload in (opened, decided, changed):
        view = apply(payload)
        for secret in ("decided", "finalist", "award_winner", SECRET_FEEDBACK, "Changed", "4.321", "rank"):
            assert secret not in view, (payload.event_type, secret)
        assert seen_by(Viewer.SUBMITTER, case)[0].progress.status is CaseStatus.IN_EVALUATION
    assert case.progress.status is CaseStatus.DECIDED and case.progress.outcome is AwardOutcome.AWARD_WINNER

    view = apply(published)
    shown, shown_timeline = seen_by(Viewer.SUBMITTER, case, timeline)
    assert shown.progress.status is CaseStatus.PUBLISHED
    assert (shown.progress.outcome, shown.progress.feedback) == (AwardOutcome.AWARD_WINNER, "Changed: the winner.")
    assert shown_timeline[-1].details == {"outcome": "award_winner", "feedback": "Changed: the winner."}
    # The superseded decision and the score and rank stay with the jury.
    assert SECRET_FEEDBACK not in view and "finalist" not in view and "4.321" not in view
