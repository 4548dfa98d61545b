"""Calls in awards: which criteria are in force, and what an announcement does to them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from services.awards import domain, workflow
from services.awards.domain import DEFAULT_CRITERIA, AnnouncedCriteria, Call, CriteriaSource
from services.awards.repository import AwardsRepository
from shared.errors import NotFound
from shared.events import QUALITY_INNOVATION_AWARD_CRITERIA, CallAnnouncedV1, Criterion
from shared.vocabulary import Category, Language
from tests.support.fakes import FakeUnitOfWork

NOW = datetime(2026, 2, 1, 9, tzinfo=UTC)
IMPACT = (Criterion(key="impact", name="Impact", weight=3, scale_min=1, scale_max=10),)
REACH = (Criterion(key="reach", name="Reach", weight=1),)


def a_call(criteria: tuple[Criterion, ...] = IMPACT, revision: int = 1) -> Call:
    return Call(
        call_id=uuid.uuid4(),
        revision=revision,
        title="Municipal idea competition",
        opens_at=NOW,
        closes_at=NOW + timedelta(days=30),
        criteria=criteria,
        learned_at=NOW,
        updated_at=NOW,
    )


def test_the_defaults_are_the_quality_innovation_awards_one_definition() -> None:
    assert DEFAULT_CRITERIA is QUALITY_INNOVATION_AWARD_CRITERIA


def test_criteria_in_force_an_override_then_the_calls_own_then_the_defaults() -> None:
    call = a_call()
    assert domain.criteria_in_force(override=REACH, call=call) == (REACH, CriteriaSource.OVERRIDE)
    assert domain.criteria_in_force(override=None, call=call) == (IMPACT, CriteriaSource.CALL)
    assert domain.criteria_in_force(override=None, call=None) == (DEFAULT_CRITERIA, CriteriaSource.DEFAULT)


def test_only_a_higher_revision_is_news() -> None:
    assert domain.is_newer_announcement(known_revision=None, revision=1)
    assert domain.is_newer_announcement(known_revision=1, revision=2)
    assert not domain.is_newer_announcement(known_revision=2, revision=2)
    assert not domain.is_newer_announcement(known_revision=3, revision=2)


@pytest.mark.parametrize(
    ("known", "announced", "overridden", "scored", "effect"),
    [
        (None, IMPACT, False, False, AnnouncedCriteria.APPLIED),  # first announcement
        (IMPACT, REACH, False, False, AnnouncedCriteria.APPLIED),
        (IMPACT, REACH, True, False, AnnouncedCriteria.RECORDED),  # the operator's override stays in force
        (IMPACT, REACH, False, True, AnnouncedCriteria.FROZEN),  # scored: criteria never change
        (IMPACT, REACH, True, True, AnnouncedCriteria.FROZEN),
        (IMPACT, IMPACT, False, True, AnnouncedCriteria.UNCHANGED),  # the window changed, not the criteria
        (IMPACT, IMPACT, True, False, AnnouncedCriteria.UNCHANGED),
    ],
)
def test_what_announced_criteria_do(
    known: Sequence[Criterion] | None,
    announced: Sequence[Criterion],
    overridden: bool,
    scored: bool,
    effect: AnnouncedCriteria,
) -> None:
    assert (
        domain.announced_criteria_effect(known=known, announced=announced, overridden=overridden, scored=scored)
        is effect
    )


# --------------------------------------------------------------------------- learn_call on a fake repository


class FakeAwardsRepository(AwardsRepository):
    """Awards' calls, overrides and open evaluations' criteria in memory: what learning a call touches."""

    def __init__(self) -> None:  # no connection
        self.calls: dict[uuid.UUID, Call] = {}
        self.overrides: dict[uuid.UUID, tuple[Criterion, ...]] = {}
        self.scored: set[uuid.UUID] = set()
        self.open_criteria: dict[uuid.UUID, tuple[Criterion, ...]] = {}  # the call's open evaluations'
        self.locked: list[uuid.UUID] = []

    async def lock_call(self, call_id: uuid.UUID, *, shared: bool = False) -> None:
        self.locked.append(call_id)

    async def get_call(self, call_id: uuid.UUID) -> Call | None:
        return self.calls.get(call_id)

    async def save_call(self, announcement: CallAnnouncedV1, *, keep_criteria: bool) -> bool:
        known = self.calls.get(announcement.call_id)
        criteria = known.criteria if keep_criteria and known is not None else tuple(announcement.criteria)
        self.calls[announcement.call_id] = Call(
            call_id=announcement.call_id,
            revision=announcement.revision,
            title=announcement.title,
            opens_at=announcement.opens_at,
            closes_at=announcement.closes_at,
            criteria=criteria,
            learned_at=NOW,
            updated_at=NOW,
        )
        return True

    async def get_criteria(self, call_id: uuid.UUID) -> tuple[Criterion, ...] | None:
        return self.overrides.get(call_id)

    async def call_has_scores(self, call_id: uuid.UUID) -> bool:
        return call_id in self.scored

    async def replace_open_criteria(self, *, call_id: uuid.UUID, criteria: Sequence[Criterion]) -> int:
        if call_id not in self.open_criteria:
            return 0
        self.open_criteria[call_id] = tuple(criteria)
        return 1


def announcement(call_id: uuid.UUID, *, revision: int, criteria: tuple[Criterion, ...]) -> CallAnnouncedV1:
    return CallAnnouncedV1(
        call_id=call_id,
        revision=revision,
        title=f"Municipal idea competition r{revision}",
        opens_at=NOW,
        closes_at=NOW + timedelta(days=revision),
        categories=[Category.PUBLIC_SECTOR],
        languages=[Language.FI],
        reviewers_per_iteration=1,
        criteria=list(criteria),
    )


async def learn(repo: FakeAwardsRepository, payload: CallAnnouncedV1) -> FakeUnitOfWork[AwardsRepository]:
    uow: FakeUnitOfWork[AwardsRepository] = FakeUnitOfWork(repo, service="awards")
    await workflow.learn_call(uow=uow, announcement=payload)
    assert uow.emitted == [], "learning a call announces nothing"
    return uow


async def test_a_call_is_learned_and_its_criteria_reach_evaluations_opened_before_it() -> None:
    repo = FakeAwardsRepository()
    call_id = uuid.uuid4()
    repo.open_criteria[call_id] = DEFAULT_CRITERIA  # a nomination overtook the announcement
    uow = await learn(repo, announcement(call_id, revision=1, criteria=IMPACT))
    assert uow.commits == 1 and repo.locked == [call_id]
    assert repo.calls[call_id].criteria == IMPACT
    assert repo.open_criteria[call_id] == IMPACT
    criteria = await workflow.call_criteria(uow=FakeUnitOfWork(repo), call_id=call_id)
    assert (criteria.criteria, criteria.source, criteria.is_default) == (IMPACT, CriteriaSource.CALL, True)


async def test_an_older_or_repeated_announcement_changes_nothing() -> None:
    repo = FakeAwardsRepository()
    call_id = uuid.uuid4()
    await learn(repo, announcement(call_id, revision=2, criteria=REACH))
    for stale in (1, 2):
        uow = await learn(repo, announcement(call_id, revision=stale, criteria=IMPACT))
        assert uow.commits == 0
    assert (repo.calls[call_id].revision, repo.calls[call_id].criteria) == (2, REACH)
    assert repo.calls[call_id].title.endswith("r2")


async def test_an_override_stays_in_force_over_later_announced_criteria() -> None:
    repo = FakeAwardsRepository()
    call_id = uuid.uuid4()
    await learn(repo, announcement(call_id, revision=1, criteria=IMPACT))
    repo.overrides[call_id] = REACH
    repo.open_criteria[call_id] = REACH
    await learn(repo, announcement(call_id, revision=2, criteria=DEFAULT_CRITERIA))
    assert repo.calls[call_id].criteria == DEFAULT_CRITERIA  # recorded, should the operator take them
    assert repo.open_criteria[call_id] == REACH
    criteria = await workflow.call_criteria(uow=FakeUnitOfWork(repo), call_id=call_id)
    assert (criteria.criteria, criteria.source, criteria.is_default) == (REACH, CriteriaSource.OVERRIDE, False)


async def test_announced_criteria_never_change_a_scored_call() -> None:
    repo = FakeAwardsRepository()
    call_id = uuid.uuid4()
    await learn(repo, announcement(call_id, revision=1, criteria=IMPACT))
    repo.open_criteria[call_id] = IMPACT
    repo.scored.add(call_id)
    await learn(repo, announcement(call_id, revision=2, criteria=REACH))
    assert repo.calls[call_id].revision == 2 and repo.calls[call_id].title.endswith("r2")  # the rest is news
    assert repo.calls[call_id].criteria == IMPACT
    assert repo.open_criteria[call_id] == IMPACT


async def test_a_call_awards_has_not_learned_is_not_found() -> None:
    repo = FakeAwardsRepository()
    unknown = uuid.uuid4()
    with pytest.raises(NotFound, match=f"call {unknown} is not known to awards"):
        await workflow.call_criteria(uow=FakeUnitOfWork(repo), call_id=unknown)
