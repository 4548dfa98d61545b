"""The topics a service subscribes to follow from the payload types its handlers take."""

from __future__ import annotations

import pytest

from shared import topics
from shared.consumer import EventContext, EventRouter
from shared.events import CaseNominatedV1, CaseSubmittedV1, CaseWithdrawnV1


async def _handler(ctx: EventContext, payload: object) -> None:
    return None


def test_topics_are_those_of_the_handled_types() -> None:
    router = EventRouter()
    router.on(CaseSubmittedV1, CaseWithdrawnV1)(_handler)
    assert router.topics == [topics.INTAKE]
    router.on(CaseNominatedV1)(_handler)
    assert router.topics == sorted([topics.INTAKE, topics.REVIEW])
    assert router.payload_types == [CaseSubmittedV1, CaseWithdrawnV1, CaseNominatedV1]


def test_a_type_moving_to_a_new_topic_is_read_from_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(CaseWithdrawnV1, "previous_topics", ("kipina.intake.v0",))
    router = EventRouter()
    router.on(CaseWithdrawnV1)(_handler)
    assert router.topics == ["kipina.intake.v0", topics.INTAKE]


def test_one_handler_per_type() -> None:
    router = EventRouter()
    router.on(CaseSubmittedV1)(_handler)
    with pytest.raises(ValueError, match="two handlers"):
        router.on(CaseSubmittedV1)(_handler)
