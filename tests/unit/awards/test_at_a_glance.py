"""Awards' domain section on the operator dashboard: scoring progress per call and per juror, the inter-rater spread
per case and the leaderboard per call and category (the same query and ranking as the operator's call page)."""

from __future__ import annotations

import uuid

from services.awards import workflow
from services.awards.domain import DEFAULT_CRITERIA, ScoredCase
from services.awards.repository import AwardsRepository, CallScoring, JurorScoring
from shared.glance import Label, Word
from tests.support.fakes import FakeUnitOfWork

CALL, OLD_CALL = uuid.uuid4(), uuid.uuid4()


def all_default(value: int) -> dict[str, int]:
    return {c.key: value for c in DEFAULT_CRITERIA}


class FakeScoring(AwardsRepository):
    def __init__(self, cases: dict[uuid.UUID, list[ScoredCase]] | None = None) -> None:  # no connection
        self.cases = cases or {}
        self.asked: list[uuid.UUID] = []

    async def scoring_per_call(self) -> list[CallScoring]:
        return [CallScoring(CALL, "Ideas 2027", scored=3, assigned=4), CallScoring(OLD_CALL, "Ideas 2026", 2, 2)]

    async def scoring_per_juror(self) -> list[JurorScoring]:
        return [JurorScoring("j1", scored=1, assigned=2), JurorScoring("j2", scored=0, assigned=1)]

    async def scored_cases(self, call_id: uuid.UUID) -> list[ScoredCase]:
        self.asked.append(call_id)
        return self.cases.get(call_id, [])


def _uow(repo: AwardsRepository) -> FakeUnitOfWork[AwardsRepository]:
    return FakeUnitOfWork(repo, service="awards", publishes=[])


async def test_scored_of_assigned_per_call_and_per_juror() -> None:
    per_call, per_juror, _, _ = await workflow.at_a_glance(uow=_uow(FakeScoring()))
    assert per_call.test_id == "scoring-per-call" and per_juror.test_id == "scoring-per-juror"
    assert per_call.columns == ("glance_call", "glance_scored", "glance_assigned")
    assert list(per_call.rows) == [("Ideas 2027", 3, 4), ("Ideas 2026", 2, 2)]
    assert list(per_juror.rows) == [("j1", 1, 2), ("j2", 0, 1)]


async def test_the_spread_per_case_widest_first_flags_a_large_one() -> None:
    wide, narrow, alone = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    repo = FakeScoring(
        {
            CALL: [
                ScoredCase(
                    narrow, "Narrow", "education", DEFAULT_CRITERIA, 2, {"a": all_default(3), "b": all_default(4)}
                ),
                ScoredCase(alone, "Alone", "education", DEFAULT_CRITERIA, 2, {"a": all_default(2)}),
            ],
            OLD_CALL: [
                ScoredCase(wide, "Wide", "education", DEFAULT_CRITERIA, 2, {"a": all_default(1), "b": all_default(5)}),
            ],
        }
    )
    _, _, spread, _ = await workflow.at_a_glance(uow=_uow(repo))
    assert repo.asked == [CALL, OLD_CALL]
    assert spread.caption == "glance_spread" and spread.test_id == "spread"
    assert spread.columns == (
        "glance_call",
        "awards.case",
        "awards.jurors_scored",
        "glance_lowest",
        "glance_highest",
        "glance_sd",
        "glance_spread_flag",
    )
    assert list(spread.rows) == [
        ("Ideas 2026", "Wide", 2, 1.0, 5.0, 2.0, Word("glance_spread_large")),
        ("Ideas 2027", "Narrow", 2, 3.0, 4.0, 0.5, None),
    ]


async def test_the_leaderboard_per_call_and_category_keeps_the_best_five() -> None:
    cases = [
        ScoredCase(uuid.uuid4(), f"Case {n}", "education", DEFAULT_CRITERIA, 2, {"a": all_default(n)}) for n in range(6)
    ] + [
        ScoredCase(
            uuid.uuid4(), "Health", "health_care", DEFAULT_CRITERIA, 2, {"a": all_default(2), "b": all_default(3)}
        )
    ]
    _, _, _, board = await workflow.at_a_glance(uow=_uow(FakeScoring({CALL: cases})))
    assert board.caption == "glance_leaderboard" and board.test_id == "leaderboard"
    assert board.columns == (
        "glance_call",
        "awards.category",
        "awards.rank",
        "awards.case",
        "awards.weighted_score",
        "awards.jurors_scored",
    )
    assert list(board.rows) == [
        ("Ideas 2027", Label("category", "education"), 1, "Case 5", 5.0, "1 / 2"),
        ("Ideas 2027", Label("category", "education"), 2, "Case 4", 4.0, "1 / 2"),
        ("Ideas 2027", Label("category", "education"), 3, "Case 3", 3.0, "1 / 2"),
        ("Ideas 2027", Label("category", "education"), 4, "Case 2", 2.0, "1 / 2"),
        ("Ideas 2027", Label("category", "education"), 5, "Case 1", 1.0, "1 / 2"),
        ("Ideas 2027", Label("category", "health_care"), 1, "Health", 2.5, "2 / 2"),
    ]
