"""The pure rules the workflow leans on: dropping conflicted jurors, when a decision may be taken, its standing."""

from __future__ import annotations

import uuid

import pytest

from services.awards import domain
from services.awards.domain import (
    DEFAULT_CRITERIA,
    EvaluationAction,
    EvaluationStatus,
    InvalidTransition,
    JurorProfile,
    ScoredCase,
)
from shared.errors import Conflict, Invalid, Problem

CASE = uuid.UUID("00000000-0000-0000-0000-00000000000a")


def juror(user_id: str, org: str, *conflicts: str) -> JurorProfile:
    return JurorProfile(user_id=user_id, name=user_id, organisation_id=org, conflicts=frozenset(conflicts))


def all_default(value: int) -> dict[str, int]:
    return {c.key: value for c in DEFAULT_CRITERIA}


def test_conflicted_jurors_keeps_assignment_order_and_ignores_jurors_off_the_panel() -> None:
    panel = (juror("j1", "org-a"), juror("j2", "org-b", str(CASE)), juror("j3", "org-c"))
    conflicted = domain.conflicted_jurors(
        panel, case_id=CASE, organisation_id="org-a", assigned=["j2", "gone", "j3", "j1"]
    )
    assert conflicted == ["j2", "j1"]
    assert domain.conflicted_jurors(panel, case_id=CASE, organisation_id="org-z", assigned=["j3"]) == []


def test_a_decision_needs_an_assigned_juror() -> None:
    with pytest.raises(Conflict, match="no juror is assigned to this case yet; set the jury"):
        domain.ensure_decidable([], [])


def test_a_decision_needs_every_assigned_jurors_scores() -> None:
    with pytest.raises(Conflict, match=r"still missing: j1, j3$"):
        domain.ensure_decidable(["j3", "j2", "j1"], ["j2"])
    domain.ensure_decidable(["j1", "j2"], ["j2", "j1"])


def test_standing_is_the_rounded_raw_score_and_category_rank() -> None:
    a, b, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    cases = [
        ScoredCase(a, "A", "education", DEFAULT_CRITERIA, 2, {"j1": all_default(3), "j2": all_default(4)}),
        ScoredCase(b, "B", "education", DEFAULT_CRITERIA, 1, {"j1": all_default(5) | {"novelty": 4}}),
        ScoredCase(other, "O", "health_care", DEFAULT_CRITERIA, 1, {}),
    ]
    assert domain.standing(cases, b) == (4.8, 1)
    assert domain.standing(cases, a) == (3.5, 2)
    assert domain.standing(cases, other) == (None, None)  # not scored, so not ranked


def test_refusals() -> None:
    assert issubclass(InvalidTransition, Conflict)
    assert str(InvalidTransition(EvaluationStatus.DECIDED, EvaluationAction.DECLARE_CONFLICT)) == (
        "cannot declare conflict: the evaluation is decided"
    )
    problems = [Problem(f"f{i}", f"p{i}") for i in range(7)]
    invalid = Invalid.of(problems)
    assert str(invalid) == "f0: p0; f1: p1; f2: p2; f3: p3; f4: p4"  # the message names the first five
    assert invalid.problems == problems
