"""Intake's feedback-point rules: which points a review event raises, and what a revision may say it addresses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.intake import domain
from services.intake.domain import FeedbackPoint
from shared.errors import Invalid
from shared.events import CaseRejectedV1, ChangesRequestedV1, FeedbackItem
from shared.feedback import PointState, PointStatus

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CASE, CALL = uuid.uuid4(), uuid.uuid4()


def point(*, addressed_in: int | None = None, item: str = "problem is evidenced") -> FeedbackPoint:
    return FeedbackPoint(uuid.uuid4(), 1, item, "no data", AT, addressed_in)


def test_a_changes_request_raises_its_numbered_items() -> None:
    evidence, users = uuid.uuid4(), uuid.uuid4()
    event = ChangesRequestedV1(
        case_id=CASE,
        call_id=CALL,
        iteration=2,
        reviewer_ids=["r-1"],
        comment="more evidence",
        feedback=[
            FeedbackItem(checklist_item="problem is evidenced", met=False, comment="no data", point_id=evidence),
            FeedbackItem(checklist_item="opportunity fits the call", met=True),
            FeedbackItem(checklist_item="users identified", met=False, point_id=users),
        ],
    )
    raised = domain.points_raised(event, at=AT)
    assert [(p.point_id, p.iteration, p.checklist_item, p.comment) for p in raised] == [
        (evidence, 2, "problem is evidenced", "no data"),
        (users, 2, "users identified", ""),
    ]
    assert all(p.state == PointState(PointStatus.OPEN) for p in raised)


def test_other_events_raise_no_points() -> None:
    rejected = CaseRejectedV1(
        case_id=CASE,
        call_id=CALL,
        iteration=1,
        reviewer_ids=["r-1"],
        comment="out of scope",
        feedback=[FeedbackItem(checklist_item="users identified", met=False, point_id=uuid.uuid4())],
    )
    assert domain.points_raised(rejected, at=AT) == []


def test_a_revision_may_address_open_points_or_none() -> None:
    points = [point(), point(item="users identified")]
    domain.ensure_open_points([points[1].point_id], points)
    domain.ensure_open_points([], points)
    domain.ensure_open_points([], [])


def test_a_revision_naming_unknown_or_addressed_points_is_refused_naming_them() -> None:
    open_point, addressed = point(), point(addressed_in=2, item="users identified")
    stranger = uuid.uuid4()
    with pytest.raises(Invalid) as refused:
        domain.ensure_open_points([open_point.point_id, stranger, addressed.point_id], [open_point, addressed])
    error = refused.value
    assert error.error == "not_open_feedback_points"
    assert f"{stranger}, {addressed.point_id}" in error.message
    assert f"its open points are: {open_point.point_id}" in error.message
    assert [(p.field, p.problem) for p in error.problems] == [
        ("addresses.1", f"{stranger} is not a feedback point of this case"),
        ("addresses.2", f"{addressed.point_id} ('users identified') was already addressed by revision 2"),
    ]
    assert error.details["open_points"] == [str(open_point.point_id)]
    assert addressed.state == PointState(PointStatus.ADDRESSED, 2)
