"""Intake's pure rules: business IDs, title normalisation, call windows, status transitions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.intake.domain import (
    CaseProgress,
    CaseStatus,
    TimelineKind,
    TransitionRefused,
    apply_event,
    business_id_problem,
    call_closed_reason,
    call_is_open,
    ensure_revisable,
    ensure_withdrawable,
    revised_entry,
    submitted_entry,
    title_key,
    withdrawn_entry,
)
from services.intake.schemas import CallIn, OrganisationIn, RevisionIn, TimelineItemOut
from shared.events import (
    AwardDecidedV1,
    CaseNominatedV1,
    CaseRejectedV1,
    CaseWithdrawnV1,
    ChangesRequestedV1,
    Criterion,
    EvaluationOpenedV1,
    EventPayload,
    FeedbackItem,
    IterationEscalatedV1,
    IterationOpenedV1,
    ResultsPublishedV1,
    StageAdvancedV1,
)
from shared.vocabulary import AwardOutcome, Category, IsoStage, Language, OecdPrinciple

CASE = uuid.uuid4()
CALL = uuid.uuid4()
NOW = datetime(2025, 5, 1, 12, tzinfo=UTC)

# --------------------------------------------------------------------------- business ID


@pytest.mark.parametrize("value", ["0112038-9", "2617416-4", "1572860-0", "0737546-2", "1234562-0", "1234567-1"])
def test_valid_business_ids(value: str) -> None:
    assert business_id_problem(value) is None


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("0112038-8", "wrong check digit (expected 9)"),
        ("1234568-1", "no valid check digit"),  # remainder 1: no ID can end this way
        ("1234568-0", "no valid check digit"),
        ("01120389", "NNNNNNN-N"),
        ("112038-9", "NNNNNNN-N"),
        ("0112038-X", "NNNNNNN-N"),
        ("A112038-9", "NNNNNNN-N"),
        ("0112038 9", "NNNNNNN-N"),
        ("", "NNNNNNN-N"),
        ("٠١١٢٠٣٨-٩", "NNNNNNN-N"),  # Arabic-Indic digits pass isdigit() but are not a Y-tunnus
    ],
)
def test_invalid_business_ids(value: str, fragment: str) -> None:
    problem = business_id_problem(value)
    assert problem is not None
    assert fragment in problem


def test_organisation_model_reports_the_business_id_problem() -> None:
    with pytest.raises(ValidationError, match="wrong check digit"):
        OrganisationIn(name="Kunta", business_id="0112038-1")


def test_oecd_principles_travel_as_numbers_and_are_listed_once() -> None:
    revision = RevisionIn.model_validate({"oecd_principles": [2, 5]})
    assert revision.oecd_principles == [OecdPrinciple.ENCOURAGE_AND_EQUIP, OecdPrinciple.DIFFUSE_LESSONS]
    assert revision.model_dump(mode="json")["oecd_principles"] == [2, 5]
    with pytest.raises(ValidationError, match="each OECD principle may be listed only once; repeated: 2"):
        RevisionIn.model_validate({"oecd_principles": [2, 5, 2]})
    with pytest.raises(ValidationError, match="1, 2, 3, 4 or 5"):
        RevisionIn.model_validate({"oecd_principles": [6]})
    assert RevisionIn.model_json_schema()["$defs"]["OecdPrinciple"]["enum"] == [1, 2, 3, 4, 5]


# --------------------------------------------------------------------------- titles


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Smart Library", "smart library"),
        ("Smart   Library!", "smart library"),
        ("  Smart-Library ", "Smart Library."),
        ("ＳＭＡＲＴ Library", "smart library"),  # full-width letters
        ("Älykäs kirjasto", "ÄLYKÄS KIRJASTO"),
        ("Straße", "STRASSE"),
    ],
)
def test_near_identical_titles_share_a_key(a: str, b: str) -> None:
    assert title_key(a) == title_key(b)


@pytest.mark.parametrize(("a", "b"), [("Smart Library", "Smart Libraries"), ("Älykäs", "Alykas"), ("Case 1", "Case 2")])
def test_different_titles_have_different_keys(a: str, b: str) -> None:
    assert title_key(a) != title_key(b)


# --------------------------------------------------------------------------- calls


def test_call_window() -> None:
    opens, closes = NOW - timedelta(days=1), NOW + timedelta(days=1)
    assert call_is_open(opens_at=opens, closes_at=closes, now=NOW)
    assert call_closed_reason(call_id="c", opens_at=opens, closes_at=closes, now=NOW) is None
    assert not call_is_open(opens_at=opens, closes_at=closes, now=closes)
    late = call_closed_reason(call_id="c", opens_at=opens, closes_at=closes, now=closes + timedelta(seconds=1))
    assert late is not None
    assert late.startswith("call c is closed for submissions (closed at ")
    early = call_closed_reason(call_id="c", opens_at=opens, closes_at=closes, now=opens - timedelta(seconds=1))
    assert early is not None
    assert "opens at" in early


def test_call_must_close_after_it_opens() -> None:
    with pytest.raises(ValidationError, match="closes_at must be after opens_at"):
        CallIn(
            title="Call",
            opens_at=NOW,
            closes_at=NOW,
            categories=[Category.EDUCATION],
            languages=[Language.FI],
        )


# --------------------------------------------------------------------------- status transitions


def progress(status: CaseStatus, iteration: int = 1, stage: IsoStage = IsoStage.CONCEPT) -> CaseProgress:
    return CaseProgress(status=status, stage=stage, iteration=iteration)


def opened(iteration: int = 1, stage: IsoStage = IsoStage.CONCEPT) -> IterationOpenedV1:
    return IterationOpenedV1(
        case_id=CASE, call_id=CALL, iteration=iteration, revision=iteration, stage=stage, due_at=NOW
    )


def changes(iteration: int = 1) -> ChangesRequestedV1:
    return ChangesRequestedV1(
        case_id=CASE,
        call_id=CALL,
        iteration=iteration,
        reviewer_ids=["r1"],
        comment="Describe the pilot results",
        feedback=[FeedbackItem(checklist_item="evidence", met=False, comment="no data")],
    )


def nominated(iteration: int = 1) -> CaseNominatedV1:
    return CaseNominatedV1(
        case_id=CASE,
        call_id=CALL,
        call_title="QIA",
        iteration=iteration,
        reviewer_ids=["r1"],
        title="t",
        summary="s",
        category=Category.EDUCATION,
        language=Language.FI,
        organisation_id="o",
        organisation_name="O",
        stage=IsoStage.SOLUTION,
    )


def rejected(iteration: int = 1) -> CaseRejectedV1:
    return CaseRejectedV1(case_id=CASE, call_id=CALL, iteration=iteration, reviewer_ids=["r"], comment="Out of scope")


def decided(outcome: AwardOutcome = AwardOutcome.AWARD_WINNER) -> AwardDecidedV1:
    return AwardDecidedV1(case_id=CASE, call_id=CALL, outcome=outcome, weighted_score=4.2, feedback="Great work")


def evaluation() -> EvaluationOpenedV1:
    return EvaluationOpenedV1(
        case_id=CASE, call_id=CALL, criteria=[Criterion(key="novelty", name="Novelty", weight=1)], juror_ids=["j1"]
    )


def test_iteration_opened_puts_the_case_in_review_at_the_stage() -> None:
    t = apply_event(progress(CaseStatus.SUBMITTED, iteration=0, stage=IsoStage.OPPORTUNITY), opened(1))
    assert t.applied
    assert t.progress.status is CaseStatus.IN_REVIEW
    assert t.progress.stage is IsoStage.CONCEPT
    assert t.progress.iteration == 1
    assert t.entry.kind is TimelineKind.ITERATION_OPENED
    assert t.entry.iteration == 1


def test_changes_requested_records_the_reviewer_comment() -> None:
    t = apply_event(progress(CaseStatus.IN_REVIEW), changes())
    assert t.progress.status is CaseStatus.CHANGES_REQUESTED
    assert "Describe the pilot results" in t.entry.summary
    assert t.entry.details["comment"] == "Describe the pilot results"
    assert t.entry.details["feedback"][0]["checklist_item"] == "evidence"


def test_revised_case_goes_back_in_review_with_the_next_iteration() -> None:
    t = apply_event(progress(CaseStatus.REVISED, iteration=1), opened(2))
    assert t.progress.status is CaseStatus.IN_REVIEW
    assert t.progress.iteration == 2


def test_stage_advanced_moves_the_stage() -> None:
    event = StageAdvancedV1(
        case_id=CASE,
        call_id=CALL,
        iteration=1,
        from_stage=IsoStage.CONCEPT,
        to_stage=IsoStage.VALIDATION,
        reviewer_ids=["r1"],
    )
    t = apply_event(progress(CaseStatus.IN_REVIEW), event)
    assert t.progress.status is CaseStatus.IN_REVIEW
    assert t.progress.stage is IsoStage.VALIDATION


def test_rejected_nominated_evaluated_decided() -> None:
    rejected = CaseRejectedV1(case_id=CASE, call_id=CALL, iteration=1, reviewer_ids=["r"], comment="Out of scope")
    assert apply_event(progress(CaseStatus.IN_REVIEW), rejected).progress.status is CaseStatus.REJECTED
    t = apply_event(progress(CaseStatus.IN_REVIEW), nominated())
    assert t.progress.status is CaseStatus.NOMINATED
    assert t.progress.stage is IsoStage.SOLUTION
    assert apply_event(t.progress, evaluation()).progress.status is CaseStatus.IN_EVALUATION
    final = apply_event(progress(CaseStatus.IN_EVALUATION), decided())
    assert final.progress.status is CaseStatus.DECIDED
    assert final.progress.outcome is AwardOutcome.AWARD_WINNER
    assert final.progress.feedback == "Great work"


def test_timeline_only_events_keep_the_status() -> None:
    escalated = IterationEscalatedV1(case_id=CASE, call_id=CALL, iteration=1, due_at=NOW)
    current = progress(CaseStatus.IN_REVIEW)
    t = apply_event(current, escalated)
    assert t.applied
    assert t.progress == current
    assert "escalated" in t.entry.summary


def test_publication_releases_the_published_outcome_and_feedback() -> None:
    done = CaseProgress(status=CaseStatus.DECIDED, stage=IsoStage.SOLUTION, outcome=AwardOutcome.FINALIST)
    event = ResultsPublishedV1(case_id=CASE, call_id=CALL, outcome=AwardOutcome.PRIZE_WINNER, feedback="Bold")
    published = apply_event(done, event)
    assert published.applied
    assert published.progress == CaseProgress(
        status=CaseStatus.PUBLISHED, stage=IsoStage.SOLUTION, outcome=AwardOutcome.PRIZE_WINNER, feedback="Bold"
    )
    assert published.entry.kind is TimelineKind.RESULTS_PUBLISHED
    assert published.entry.summary == "Results published: prize winner"
    assert published.entry.details == {"outcome": "prize_winner", "feedback": "Bold"}


def test_a_published_result_is_final() -> None:
    published = CaseProgress(status=CaseStatus.PUBLISHED, stage=IsoStage.SOLUTION, outcome=AwardOutcome.FINALIST)
    late = apply_event(published, decided(AwardOutcome.AWARD_WINNER))
    assert not late.applied
    assert late.progress == published


@pytest.mark.parametrize("final", [CaseStatus.DECIDED, CaseStatus.PUBLISHED, CaseStatus.REJECTED, CaseStatus.WITHDRAWN])
@pytest.mark.parametrize("event", [opened(3), changes(3), nominated(3), evaluation(), rejected(3)])
def test_a_stale_event_never_moves_a_final_case_back(final: CaseStatus, event: object) -> None:
    current = progress(final)
    t = apply_event(current, event)  # type: ignore[arg-type]
    assert not t.applied
    assert t.progress == current


def test_a_late_review_event_does_not_undo_the_evaluation() -> None:
    current = progress(CaseStatus.IN_EVALUATION)
    t = apply_event(current, nominated())
    assert not t.applied
    assert t.progress.status is CaseStatus.IN_EVALUATION


def test_an_event_of_an_older_iteration_is_stale() -> None:
    t = apply_event(progress(CaseStatus.IN_REVIEW, iteration=2), changes(1))
    assert not t.applied
    assert t.progress.status is CaseStatus.IN_REVIEW


def test_a_decided_case_can_be_re_decided() -> None:
    current = CaseProgress(status=CaseStatus.DECIDED, stage=IsoStage.SOLUTION, outcome=AwardOutcome.FINALIST)
    t = apply_event(current, decided(AwardOutcome.PRIZE_WINNER))
    assert t.applied
    assert t.progress.outcome is AwardOutcome.PRIZE_WINNER


def events_of_every_kind() -> list[tuple[EventPayload, TimelineKind]]:
    """One review or awards event of each kind intake tracks, and the kind of timeline entry it makes."""
    return [
        (opened(), TimelineKind.ITERATION_OPENED),
        (changes(), TimelineKind.CHANGES_REQUESTED),
        (
            StageAdvancedV1(
                case_id=CASE,
                call_id=CALL,
                iteration=1,
                from_stage=IsoStage.CONCEPT,
                to_stage=IsoStage.VALIDATION,
                reviewer_ids=["r1"],
            ),
            TimelineKind.STAGE_ADVANCED,
        ),
        (
            CaseRejectedV1(case_id=CASE, call_id=CALL, iteration=1, reviewer_ids=["r"], comment="Out of scope"),
            TimelineKind.REJECTED,
        ),
        (nominated(), TimelineKind.NOMINATED),
        (IterationEscalatedV1(case_id=CASE, call_id=CALL, iteration=1, due_at=NOW), TimelineKind.ESCALATED),
        (evaluation(), TimelineKind.EVALUATION_OPENED),
        (decided(), TimelineKind.DECIDED),
        (
            ResultsPublishedV1(case_id=CASE, call_id=CALL, outcome=AwardOutcome.FINALIST),
            TimelineKind.RESULTS_PUBLISHED,
        ),
    ]


def test_every_timeline_entry_speaks_one_vocabulary() -> None:
    """Each tracked event and each submitter action has its own kind, and every kind is used."""
    by_event = events_of_every_kind()
    kinds = [apply_event(progress(CaseStatus.IN_REVIEW), event).entry.kind for event, _ in by_event]
    assert kinds == [kind for _, kind in by_event]
    assert all(type(kind) is TimelineKind for kind in kinds)
    own = [
        submitted_entry(call_title="QIA").kind,
        revised_entry(revision=2, changed=[], change_note="", iteration=1).kind,
        withdrawn_entry(reason="").kind,
    ]
    assert own == [TimelineKind.SUBMITTED, TimelineKind.REVISED, TimelineKind.WITHDRAWN]
    assert sorted(kinds + own) == sorted(TimelineKind)


def test_intake_does_not_track_its_own_events() -> None:
    with pytest.raises(ValueError, match="does not track"):
        apply_event(progress(CaseStatus.SUBMITTED), CaseWithdrawnV1(case_id=CASE, call_id=CALL))


def test_revision_only_when_changes_are_requested() -> None:
    ensure_revisable(CaseStatus.CHANGES_REQUESTED)
    for status in set(CaseStatus) - {CaseStatus.CHANGES_REQUESTED, CaseStatus.DECIDED}:
        with pytest.raises(TransitionRefused, match=repr(status.value)):
            ensure_revisable(status)
    # The refusal names the status as the submitter sees it: a decided case is still in evaluation to them.
    with pytest.raises(TransitionRefused, match=r"its status is 'in_evaluation'$"):
        ensure_revisable(CaseStatus.DECIDED)


def test_withdrawal_unless_final() -> None:
    for status in CaseStatus:
        if status in (CaseStatus.PUBLISHED, CaseStatus.REJECTED, CaseStatus.WITHDRAWN):
            with pytest.raises(TransitionRefused, match=status.value):
                ensure_withdrawable(status)
        else:
            # A decided case too: its submitter cannot know it is decided, so it behaves as one in evaluation.
            ensure_withdrawable(status)


def test_the_timeline_kind_is_an_enum_in_the_api() -> None:
    schema = TimelineItemOut.model_json_schema()
    assert schema["properties"]["kind"] == {"$ref": "#/$defs/TimelineKind"}
    assert schema["$defs"]["TimelineKind"]["enum"] == [k.value for k in TimelineKind]
