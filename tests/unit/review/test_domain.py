"""Review's decision rules: transitions, four-eyes resolution, stage advance, events of a settled iteration."""

from __future__ import annotations

import uuid

import pytest

from services.review import domain
from services.review.domain import (
    Decision,
    DecisionNotAllowed,
    IterationStatus,
    ReviewerDecision,
    ReviewStatus,
)
from shared.events import (
    CaseHeader,
    CaseNominatedV1,
    CaseRejectedV1,
    ChangesRequestedV1,
    FeedbackItem,
    StageAdvancedV1,
)
from shared.vocabulary import Category, IsoStage, Language

# --------------------------------------------------------------------------- transitions


@pytest.mark.parametrize(
    ("decision", "review_status", "iteration_status", "next_stage", "opens"),
    [
        (Decision.REQUEST_CHANGES, ReviewStatus.CHANGES_REQUESTED, IterationStatus.CHANGES_REQUESTED, None, False),
        (Decision.ADVANCE, ReviewStatus.IN_REVIEW, IterationStatus.ADVANCED, IsoStage.VALIDATION, True),
        (Decision.REJECT, ReviewStatus.REJECTED, IterationStatus.REJECTED, None, False),
        (Decision.NOMINATE, ReviewStatus.NOMINATED, IterationStatus.NOMINATED, None, False),
    ],
)
def test_outcome_of_each_decision(decision, review_status, iteration_status, next_stage, opens):
    effect = domain.outcome_of(decision, stage=IsoStage.CONCEPT)
    assert effect.review_status is review_status
    assert effect.iteration_status is iteration_status
    assert effect.next_stage == next_stage
    assert effect.opens_next_iteration is opens


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        (IsoStage.OPPORTUNITY, IsoStage.CONCEPT),
        (IsoStage.CONCEPT, IsoStage.VALIDATION),
        (IsoStage.VALIDATION, IsoStage.SOLUTION),
        (IsoStage.SOLUTION, IsoStage.DEPLOYMENT),
    ],
)
def test_advance_moves_to_the_next_iso_56002_stage(stage, expected):
    assert domain.outcome_of(Decision.ADVANCE, stage=stage).next_stage is expected


def test_advancing_from_deployment_is_not_allowed():
    with pytest.raises(DecisionNotAllowed, match="last ISO 56002 stage"):
        domain.ensure_decision(
            review_status=ReviewStatus.IN_REVIEW, stage=IsoStage.DEPLOYMENT, decision=Decision.ADVANCE
        )
    with pytest.raises(DecisionNotAllowed):
        domain.outcome_of(Decision.ADVANCE, stage=IsoStage.DEPLOYMENT)


@pytest.mark.parametrize("decision", [d for d in Decision if d is not Decision.ADVANCE])
def test_other_decisions_are_allowed_at_deployment(decision):
    domain.ensure_decision(review_status=ReviewStatus.IN_REVIEW, stage=IsoStage.DEPLOYMENT, decision=decision)


@pytest.mark.parametrize("status", [ReviewStatus.REJECTED, ReviewStatus.NOMINATED, ReviewStatus.WITHDRAWN])
@pytest.mark.parametrize("decision", list(Decision))
def test_a_decided_case_takes_no_more_decisions(status, decision):
    with pytest.raises(DecisionNotAllowed, match="no more decisions"):
        domain.ensure_decision(review_status=status, stage=IsoStage.CONCEPT, decision=decision)


def test_no_decision_while_waiting_for_a_revision():
    with pytest.raises(DecisionNotAllowed, match="no iteration is open"):
        domain.ensure_decision(
            review_status=ReviewStatus.CHANGES_REQUESTED, stage=IsoStage.CONCEPT, decision=Decision.NOMINATE
        )


@pytest.mark.parametrize(
    ("status", "opens"),
    [
        (ReviewStatus.CHANGES_REQUESTED, True),
        (ReviewStatus.IN_REVIEW, False),
        (ReviewStatus.REJECTED, False),
        (ReviewStatus.NOMINATED, False),
        (ReviewStatus.WITHDRAWN, False),
    ],
)
def test_only_a_revision_after_changes_requested_opens_an_iteration(status, opens):
    assert domain.revision_opens_iteration(status) is opens


def test_a_revision_never_moves_the_stage_back():
    assert domain.stage_after_revision(IsoStage.VALIDATION, IsoStage.OPPORTUNITY) is IsoStage.VALIDATION
    assert domain.stage_after_revision(IsoStage.CONCEPT, IsoStage.SOLUTION) is IsoStage.SOLUTION


# --------------------------------------------------------------------------- four-eyes


@pytest.mark.parametrize("decision", list(Decision))
def test_single_reviewer_decision_settles_at_once(decision):
    assert domain.resolve([decision], required=1) is decision


def test_four_eyes_waits_for_the_second_reviewer():
    assert domain.resolve([Decision.NOMINATE], required=2) is None
    assert domain.resolve([], required=1) is None


@pytest.mark.parametrize("decision", list(Decision))
def test_four_eyes_agreement_is_the_outcome(decision):
    assert domain.resolve([decision, decision], required=2) is decision


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (Decision.NOMINATE, Decision.REJECT, Decision.REJECT),
        (Decision.ADVANCE, Decision.REQUEST_CHANGES, Decision.REQUEST_CHANGES),
        (Decision.NOMINATE, Decision.ADVANCE, Decision.ADVANCE),
        (Decision.REQUEST_CHANGES, Decision.REJECT, Decision.REJECT),
        (Decision.NOMINATE, Decision.REQUEST_CHANGES, Decision.REQUEST_CHANGES),
        (Decision.ADVANCE, Decision.REJECT, Decision.REJECT),
    ],
)
def test_four_eyes_disagreement_the_more_cautious_wins(first, second, expected):
    assert domain.resolve([first, second], required=2) is expected
    assert domain.resolve([second, first], required=2) is expected


# --------------------------------------------------------------------------- checklists


def test_every_stage_has_a_checklist():
    for stage in IsoStage:
        assert len(domain.checklist(stage)) >= 3
    assert "problem is evidenced" in domain.checklist(IsoStage.OPPORTUNITY)
    assert "users identified" in domain.checklist(IsoStage.OPPORTUNITY)


def test_unknown_checklist_items_are_reported():
    assert domain.unknown_checklist_items(IsoStage.OPPORTUNITY, ["users identified", "made up"]) == ["made up"]
    assert domain.unknown_checklist_items(IsoStage.OPPORTUNITY, []) == []


# --------------------------------------------------------------------------- events


FACTS = CaseHeader(
    case_id=uuid.uuid4(),
    call_id=uuid.uuid4(),
    call_title="Quality Innovation Award 2026",
    title="Digital permits",
    summary="Permits in a day",
    category=Category.PUBLIC_SECTOR,
    language=Language.FI,
    organisation_id="org-espoo",
    organisation_name="City of Espoo",
)
FEEDBACK = (FeedbackItem(checklist_item="users identified", met=True, comment="yes"),)


def test_nominated_event_carries_the_snapshot():
    decisions = [
        ReviewerDecision("r1", Decision.NOMINATE, "excellent", FEEDBACK),
        ReviewerDecision("r2", Decision.NOMINATE, "agree"),
    ]
    event = domain.settled_event(
        Decision.NOMINATE, case=FACTS, iteration=2, stage=IsoStage.SOLUTION, decisions=decisions
    )
    assert isinstance(event, CaseNominatedV1)
    assert event.case_id == FACTS.case_id and event.call_id == FACTS.call_id
    assert event.call_title == FACTS.call_title
    assert (event.title, event.summary) == (FACTS.title, FACTS.summary)
    assert event.category is Category.PUBLIC_SECTOR and event.language is Language.FI
    assert (event.organisation_id, event.organisation_name) == ("org-espoo", "City of Espoo")
    assert event.stage is IsoStage.SOLUTION and event.iteration == 2
    assert event.reviewer_ids == ["r1", "r2"]
    assert event.comment == "excellent\n\nagree"


def test_changes_requested_event_has_the_winning_comments_and_all_feedback():
    decisions = [
        ReviewerDecision("r1", Decision.NOMINATE, "great", FEEDBACK),
        ReviewerDecision("r2", Decision.REQUEST_CHANGES, "evidence missing"),
    ]
    event = domain.settled_event(
        Decision.REQUEST_CHANGES, case=FACTS, iteration=1, stage=IsoStage.OPPORTUNITY, decisions=decisions
    )
    assert isinstance(event, ChangesRequestedV1)
    assert event.comment == "evidence missing"
    assert event.reviewer_ids == ["r1", "r2"]
    assert list(event.feedback) == list(FEEDBACK)


def test_stage_advanced_and_rejected_events():
    advanced = domain.settled_event(
        Decision.ADVANCE,
        case=FACTS,
        iteration=3,
        stage=IsoStage.VALIDATION,
        decisions=[ReviewerDecision("r1", Decision.ADVANCE, "on to solution")],
    )
    assert isinstance(advanced, StageAdvancedV1)
    assert (advanced.from_stage, advanced.to_stage) == (IsoStage.VALIDATION, IsoStage.SOLUTION)
    rejected = domain.settled_event(
        Decision.REJECT,
        case=FACTS,
        iteration=1,
        stage=IsoStage.CONCEPT,
        decisions=[ReviewerDecision("r1", Decision.REJECT, "out of scope", FEEDBACK)],
    )
    assert isinstance(rejected, CaseRejectedV1)
    assert rejected.comment == "out of scope" and list(rejected.feedback) == list(FEEDBACK)
