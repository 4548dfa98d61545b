"""Feedback points in review: which items become points, their state over iterations and revisions, and who
reads what of a case's history. Pure rules, no I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.review import domain
from services.review.domain import (
    CaseDetails,
    Decision,
    Iteration,
    IterationStatus,
    Reader,
    ReviewedCase,
    ReviewStatus,
    RevisionNote,
    TaskSlot,
    TaskStatus,
)
from shared.events import CaseHeader, FeedbackItem
from shared.feedback import PointState, PointStatus, point_states
from shared.vocabulary import Category, IsoStage, Language, Role

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CASE_ORG = "org-espoo"


def slot(
    iteration: int,
    feedback: tuple[FeedbackItem, ...] = (),
    *,
    decision: Decision | None = Decision.REQUEST_CHANGES,
    slot_no: int = 1,
    reviewer: str = "r-anna",
    comment: str = "",
) -> TaskSlot:
    decided = decision is not None
    return TaskSlot(
        task_id=uuid.uuid4(),
        iteration=iteration,
        slot=slot_no,
        status=TaskStatus.DECIDED if decided else TaskStatus.CLAIMED,
        reviewer_id=reviewer,
        claimed_at=NOW,
        lease_expires_at=None if decided else NOW + timedelta(minutes=30),
        decision=decision,
        comment=comment or (f"{decision} by {reviewer}" if decided else None),
        feedback=feedback,
        decided_at=NOW if decided else None,
    )


def iteration(number: int, *, revision: int, outcome: Decision | None) -> Iteration:
    return Iteration(
        case_id=uuid.uuid4(),
        iteration=number,
        stage=IsoStage.OPPORTUNITY,
        revision=revision,
        status=IterationStatus.OPEN if outcome is None else IterationStatus.CHANGES_REQUESTED,
        outcome=outcome,
        opened_at=NOW,
        due_at=NOW + timedelta(hours=72),
        escalated_at=None,
        closed_at=None if outcome is None else NOW,
    )


def revision(number: int, *points: uuid.UUID) -> RevisionNote:
    return RevisionNote(revision=number, change_note=f"revision {number}", addressed_points=points, received_at=NOW)


UNMET_EVIDENCE = FeedbackItem(checklist_item="problem is evidenced", met=False, comment="no data")
UNMET_USERS = FeedbackItem(checklist_item="users identified", met=False, comment="who uses it?")
MET_FIT = FeedbackItem(checklist_item="opportunity fits the call", met=True)


# --------------------------------------------------------------------------- the shared rule


def test_a_point_is_open_until_the_first_revision_that_addresses_it() -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    states = point_states([a, b, c], [(3, [a, b]), (2, [a])])
    assert states[a] == PointState(PointStatus.ADDRESSED, 2)  # the earliest revision, whatever the order given
    assert states[b] == PointState(PointStatus.ADDRESSED, 3)
    assert states[c] == PointState(PointStatus.OPEN, None)


def test_ids_a_revision_names_that_are_no_points_change_nothing() -> None:
    a = uuid.uuid4()
    assert point_states([a], [(2, [uuid.uuid4()])]) == {a: PointState(PointStatus.OPEN)}


# --------------------------------------------------------------------------- numbering


def test_only_unmet_items_become_points_and_their_ids_are_stable() -> None:
    [numbered] = domain.number_points([slot(1, (UNMET_EVIDENCE, MET_FIT, UNMET_USERS))])
    ids = [f.point_id for f in numbered.feedback]
    assert ids[1] is None
    assert ids[0] is not None and ids[2] is not None and ids[0] != ids[2]
    # Numbering again (a replayed settlement) gives the same ids and keeps the ones already given.
    assert domain.number_points([numbered]) == [numbered]
    assert domain.point_id(numbered.task_id, 0) == ids[0]


def test_every_reviewers_unmet_items_become_points_in_four_eyes() -> None:
    advancing = slot(1, (UNMET_USERS,), decision=Decision.ADVANCE, reviewer="r-ben", slot_no=2)
    numbered = domain.number_points([slot(1, (UNMET_EVIDENCE,)), advancing])
    assert all(f.point_id is not None for s in numbered for f in s.feedback)
    assert numbered[0].feedback[0].point_id != numbered[1].feedback[0].point_id


# --------------------------------------------------------------------------- points over iterations and revisions


def test_points_carry_over_iterations_until_a_revision_addresses_them() -> None:
    # Iteration 1 (revision 1) asks for two points; revision 2 addresses one; iteration 2 judges the users point
    # unmet again (a new point) and revision 3 addresses that one.
    [first] = domain.number_points([slot(1, (UNMET_EVIDENCE, MET_FIT, UNMET_USERS))])
    evidence, users = first.feedback[0].point_id, first.feedback[2].point_id
    assert evidence is not None and users is not None
    [second] = domain.number_points([slot(2, (UNMET_USERS,), reviewer="r-ben")])
    users_again = second.feedback[0].point_id
    assert users_again is not None

    after_revision_2 = domain.feedback_points([second, first], [revision(2, evidence)])
    assert [(p.iteration, p.checklist_item, p.state) for p in after_revision_2] == [
        (1, "problem is evidenced", PointState(PointStatus.ADDRESSED, 2)),
        (1, "users identified", PointState(PointStatus.OPEN)),
        (2, "users identified", PointState(PointStatus.OPEN)),
    ]
    after_revision_3 = domain.feedback_points([first, second], [revision(2, evidence), revision(3, users, users_again)])
    assert [p.state.addressed_in_revision for p in after_revision_3] == [2, 3, 3]
    assert {p.point_id for p in after_revision_3} == {evidence, users, users_again}


def test_items_without_point_ids_are_no_points() -> None:
    # A rejection's or an advance's feedback is never numbered: nothing waits for a revision there.
    assert domain.feedback_points([slot(1, (UNMET_EVIDENCE,), decision=Decision.REJECT)], []) == []


# --------------------------------------------------------------------------- who reads what


def case(*, submitter_id: str = "sub-1") -> ReviewedCase:
    header = CaseHeader(
        case_id=uuid.uuid4(),
        call_id=uuid.uuid4(),
        call_title="Quality Innovation Award 2026",
        title="Digital building permits",
        summary="Permits in a day",
        category=Category.PUBLIC_SECTOR,
        language=Language.FI,
        organisation_id=CASE_ORG,
        organisation_name="City of Espoo",
    )
    return ReviewedCase(
        header=header,
        status=ReviewStatus.IN_REVIEW,
        stage=IsoStage.OPPORTUNITY,
        revision=1,
        reviewers_per_iteration=1,
        details=CaseDetails(),
        submitter_id=submitter_id,
    )


@pytest.mark.parametrize(
    ("roles", "user", "org", "expected"),
    [
        ({Role.OPERATOR}, "op-1", CASE_ORG, Reader.OPERATOR),
        ({Role.REVIEWER}, "r-1", "org-review-board", Reader.REVIEWER),
        ({Role.REVIEWER}, "r-own", CASE_ORG, None),  # the conflict rule hides the case
        ({Role.SUBMITTER}, "sub-1", CASE_ORG, Reader.SUBMITTER),
        ({Role.SUBMITTER}, "sub-2", CASE_ORG, None),  # a colleague's case is not theirs
        ({Role.SUBMITTER, Role.REVIEWER}, "sub-1", CASE_ORG, Reader.SUBMITTER),
        ({Role.JUROR}, "sub-1", "org-jury", None),
    ],
)
def test_who_reads_a_cases_history(roles: set[Role], user: str, org: str, expected: Reader | None) -> None:
    assert domain.history_reader(roles=roles, user_id=user, organisation_id=org, case=case()) is expected


def test_a_case_without_a_known_submitter_is_nobodys_to_read_as_submitter() -> None:
    unknown = case(submitter_id="")
    assert domain.history_reader(roles={Role.SUBMITTER}, user_id="sub-1", organisation_id="o", case=unknown) is None


def test_the_submitter_reads_settled_reasons_but_not_who_decided_what() -> None:
    settled = [
        slot(1, (UNMET_EVIDENCE,), comment="Show evidence."),
        slot(1, (MET_FIT,), decision=Decision.ADVANCE, slot_no=2, reviewer="r-ben", comment="Fine by me."),
    ]
    waiting = [slot(2, (UNMET_USERS,), decision=Decision.NOMINATE), slot(2, decision=None, slot_no=2)]
    iterations = [iteration(1, revision=1, outcome=Decision.REQUEST_CHANGES), iteration(2, revision=2, outcome=None)]

    first, second = domain.iteration_records(iterations, settled + waiting, reader=Reader.SUBMITTER)
    assert first.slots == () and second.slots == ()
    assert first.comment == "Show evidence."  # the reasons of those who chose the outcome
    assert first.feedback == (UNMET_EVIDENCE, MET_FIT)  # everyone's feedback
    # A four-eyes iteration's first decision stays unseen until the second settles it.
    assert (second.comment, second.feedback) == ("", ())

    first, second = domain.iteration_records(iterations, settled + waiting, reader=Reader.REVIEWER)
    assert [s.reviewer_id for s in first.slots] == ["r-anna", "r-ben"] and len(second.slots) == 2
