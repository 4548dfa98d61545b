"""Calls in intake: their criteria, the rules of a change, and the announcement each revision sends."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from services.intake import domain, workflow
from services.intake.domain import Call, CallChanges, NewCall
from services.intake.repository import IntakeRepository
from services.intake.schemas import CallChangesIn, CallIn
from shared.errors import Invalid, NotFound
from shared.events import QUALITY_INNOVATION_AWARD_CRITERIA, CallAnnouncedV1, Criterion
from shared.vocabulary import Category, Language
from tests.support.fakes import FakeUnitOfWork

NOW = datetime(2026, 1, 10, 12, tzinfo=UTC)
IMPACT = (Criterion(key="impact", name="Impact", weight=3, scale_min=1, scale_max=10),)


def a_call(**overrides: Any) -> Call:
    call = Call(
        id=uuid.uuid4(),
        title="Quality Innovation Award 2026",
        description="The annual award",
        opens_at=NOW,
        closes_at=NOW + timedelta(days=30),
        categories=[Category.PUBLIC_SECTOR],
        languages=[Language.FI],
        reviewers_per_iteration=2,
        criteria=QUALITY_INNOVATION_AWARD_CRITERIA,
        revision=1,
        created_by="op-1",
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(call, **overrides)


# --------------------------------------------------------------------------- rules


def test_a_change_is_the_next_revision_and_keeps_what_it_does_not_name() -> None:
    call = a_call()
    later = NOW + timedelta(days=60)
    changed = domain.changed_call(call, CallChanges(closes_at=later, criteria=IMPACT))
    assert changed.revision == 2
    assert changed.closes_at == later and changed.criteria == IMPACT
    assert (changed.opens_at, changed.description, changed.categories, changed.languages) == (
        call.opens_at,
        call.description,
        call.categories,
        call.languages,
    )
    assert (changed.title, changed.reviewers_per_iteration) == (call.title, call.reviewers_per_iteration)


def test_a_change_must_leave_a_window() -> None:
    call = a_call()
    with pytest.raises(Invalid) as refused:
        domain.changed_call(call, CallChanges(opens_at=call.closes_at + timedelta(days=1)))
    assert [(p.field, p.problem) for p in refused.value.problems] == [("opens_at", "closes_at must be after opens_at")]
    with pytest.raises(Invalid, match="closes_at must be after opens_at") as refused:
        domain.changed_call(call, CallChanges(closes_at=call.opens_at))
    assert refused.value.problems[0].field == "closes_at"


def test_a_change_needs_something_to_change() -> None:
    with pytest.raises(Invalid) as refused:
        domain.changed_call(a_call(), CallChanges())
    assert refused.value.error == "nothing_to_change"


def test_criteria_nobody_could_score_are_refused() -> None:
    twice = (*IMPACT, IMPACT[0].model_copy(update={"name": "Impact again"}))
    with pytest.raises(Invalid, match="repeated: impact"):
        domain.changed_call(a_call(), CallChanges(criteria=twice))
    with pytest.raises(Invalid, match=r"criteria\.0\.scale_max"):
        domain.ensure_usable_criteria((Criterion(key="k", name="K", weight=1, scale_min=5, scale_max=5),))
    domain.ensure_usable_criteria(QUALITY_INNOVATION_AWARD_CRITERIA)


def test_the_announcement_is_the_whole_call_at_its_revision() -> None:
    call = a_call(revision=3, criteria=IMPACT, categories=[Category.EDUCATION, Category.HEALTH_CARE])
    announced = domain.call_announcement(call)
    assert announced == CallAnnouncedV1(
        call_id=call.id,
        revision=3,
        title=call.title,
        description=call.description,
        opens_at=call.opens_at,
        closes_at=call.closes_at,
        categories=[Category.EDUCATION, Category.HEALTH_CARE],
        languages=[Language.FI],
        reviewers_per_iteration=2,
        criteria=list(IMPACT),
    )
    # Keyed by the call, so one call's announcements stay in order on one partition.
    assert announced.subject() == str(call.id)


# --------------------------------------------------------------------------- request bodies


def call_in(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Quality Innovation Award",
        "opens_at": NOW.isoformat(),
        "closes_at": (NOW + timedelta(days=1)).isoformat(),
        "categories": ["public_sector"],
        "languages": ["fi"],
    }
    return body | overrides


def test_criteria_are_optional_in_a_new_call() -> None:
    assert CallIn.model_validate(call_in()).criteria is None
    given = CallIn.model_validate(call_in(criteria=[{"key": "impact", "name": "Impact", "weight": 2}]))
    assert given.criteria is not None and given.criteria[0].criterion() == Criterion(
        key="impact", name="Impact", weight=2
    )
    with pytest.raises(ValidationError):
        CallIn.model_validate(call_in(criteria=[]))
    with pytest.raises(ValidationError):
        CallIn.model_validate(call_in(criteria=[{"key": "Not Snake", "name": "x", "weight": 1}]))


def test_a_change_names_only_what_may_change() -> None:
    changes = CallChangesIn.model_validate({"categories": ["education", "education"], "description": "New"})
    assert changes.categories == [Category.EDUCATION] and changes.opens_at is None
    for frozen in ({"title": "Another title"}, {"reviewers_per_iteration": 1}):
        with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
            CallChangesIn.model_validate(frozen)
    with pytest.raises(ValidationError):
        CallChangesIn.model_validate({"languages": []})


# --------------------------------------------------------------------------- use cases


class FakeCalls(IntakeRepository):
    """Intake's calls table in memory."""

    def __init__(self) -> None:  # no connection
        self.calls: dict[uuid.UUID, Call] = {}

    async def insert_call(self, *, call_id: uuid.UUID, call: NewCall, created_by: str) -> Call:
        self.calls[call_id] = a_call(
            id=call_id,
            title=call.title,
            description=call.description,
            opens_at=call.opens_at,
            closes_at=call.closes_at,
            categories=list(call.categories),
            languages=list(call.languages),
            reviewers_per_iteration=call.reviewers_per_iteration,
            criteria=call.criteria,
            created_by=created_by,
        )
        return self.calls[call_id]

    async def get_call(self, call_id: uuid.UUID, *, for_update: bool = False) -> Call | None:
        return self.calls.get(call_id)

    async def update_call(self, call: Call) -> Call:
        self.calls[call.id] = call
        return call


def new_uow(repo: FakeCalls) -> FakeUnitOfWork[IntakeRepository]:
    return FakeUnitOfWork(repo, service="intake", publishes=[CallAnnouncedV1])


def a_new_call(**overrides: Any) -> NewCall:
    call = NewCall(
        title="Municipal idea competition",
        description="",
        opens_at=NOW,
        closes_at=NOW + timedelta(days=10),
        categories=(Category.PUBLIC_SECTOR,),
        languages=(Language.FI, Language.SV),
        reviewers_per_iteration=1,
    )
    return replace(call, **overrides)


async def test_a_new_call_is_announced_with_the_award_criteria_by_default() -> None:
    repo = FakeCalls()
    uow = new_uow(repo)
    created = await workflow.create_call(uow=uow, call=a_new_call(), operator_id="op-1")
    assert created.criteria == QUALITY_INNOVATION_AWARD_CRITERIA
    (announced,) = uow.events
    assert isinstance(announced, CallAnnouncedV1)
    assert (announced.call_id, announced.revision) == (created.id, 1)
    assert announced.criteria == list(QUALITY_INNOVATION_AWARD_CRITERIA)
    assert announced.languages == [Language.FI, Language.SV]


async def test_a_new_call_with_unusable_criteria_is_refused_and_nothing_announced() -> None:
    repo = FakeCalls()
    uow = new_uow(repo)
    with pytest.raises(Invalid):
        await workflow.create_call(uow=uow, call=a_new_call(criteria=IMPACT + IMPACT), operator_id="op-1")
    assert uow.events == [] and repo.calls == {}


async def test_each_change_announces_the_next_revision() -> None:
    repo = FakeCalls()
    created = await workflow.create_call(uow=new_uow(repo), call=a_new_call(), operator_id="op-1")
    uow = new_uow(repo)
    await workflow.change_call(uow=uow, call_id=created.id, changes=CallChanges(criteria=IMPACT), operator_id="op-2")
    changed = await workflow.change_call(
        uow=uow, call_id=created.id, changes=CallChanges(description="Now with a description"), operator_id="op-2"
    )
    assert changed.revision == 3 and repo.calls[created.id] == changed
    assert [(e.revision, e.criteria, e.description) for e in uow.events if isinstance(e, CallAnnouncedV1)] == [
        (2, list(IMPACT), ""),
        (3, list(IMPACT), "Now with a description"),
    ]


async def test_a_refused_change_announces_nothing() -> None:
    repo = FakeCalls()
    created = await workflow.create_call(uow=new_uow(repo), call=a_new_call(), operator_id="op-1")
    uow = new_uow(repo)
    with pytest.raises(Invalid):
        await workflow.change_call(
            uow=uow, call_id=created.id, changes=CallChanges(closes_at=NOW - timedelta(days=1)), operator_id="op-1"
        )
    with pytest.raises(NotFound, match="does not exist"):
        await workflow.change_call(
            uow=uow, call_id=uuid.uuid4(), changes=CallChanges(description="x"), operator_id="op-1"
        )
    assert uow.events == [] and repo.calls[created.id].revision == 1
