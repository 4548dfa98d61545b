"""Review's refusals of a task action: deciding, releasing, conflict of interest, feedback off the checklist."""

from __future__ import annotations

import pytest

from services.review import domain
from services.review.domain import DecisionNotAllowed, TaskStatus
from shared.errors import Conflict, Invalid
from shared.vocabulary import IsoStage


def test_a_claim_that_still_stands_may_be_decided():
    domain.ensure_decidable(task_status=TaskStatus.CLAIMED, lease_expired=False)


@pytest.mark.parametrize(
    ("status", "lease_expired", "message"),
    [
        (TaskStatus.CLAIMED, True, "lease expired: claim the task again"),
        (TaskStatus.QUEUED, False, "lease expired: claim the task again"),
        (TaskStatus.DECIDED, False, "the task is already decided"),
        (TaskStatus.CANCELLED, False, "the task was cancelled (the case was withdrawn)"),
    ],
)
def test_a_task_without_a_standing_claim_takes_no_decision(status, lease_expired, message):
    with pytest.raises(DecisionNotAllowed) as refused:
        domain.ensure_decidable(task_status=status, lease_expired=lease_expired)
    assert str(refused.value) == message
    assert isinstance(refused.value, Conflict)


def test_no_decision_on_a_case_of_the_reviewers_own_organisation():
    domain.ensure_no_conflict_of_interest(case_organisation="org-espoo", reviewer_organisation="org-board")
    with pytest.raises(DecisionNotAllowed, match="conflict of interest"):
        domain.ensure_no_conflict_of_interest(case_organisation="org-espoo", reviewer_organisation="org-espoo")


def test_only_a_claimed_task_can_be_released():
    domain.ensure_releasable(TaskStatus.CLAIMED)
    for status in (TaskStatus.QUEUED, TaskStatus.DECIDED, TaskStatus.CANCELLED):
        with pytest.raises(Conflict) as refused:
            domain.ensure_releasable(status)
        assert str(refused.value) == f"the task is {status.value}; only a claimed task can be released"


def test_feedback_must_name_checklist_items():
    domain.ensure_feedback(IsoStage.OPPORTUNITY, ["users identified"])
    with pytest.raises(Invalid, match=r"not on the opportunity checklist: \['made up'\]; the checklist is \["):
        domain.ensure_feedback(IsoStage.OPPORTUNITY, ["users identified", "made up"])
