"""Review learns calls from intake's announcements, newest revision only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.review import domain, workflow
from services.review.domain import Call
from services.review.repository import ReviewRepository
from shared.events import QUALITY_INNOVATION_AWARD_CRITERIA, CallAnnouncedV1
from shared.vocabulary import Category, Language
from tests.support.fakes import FakeUnitOfWork

NOW = datetime(2026, 2, 1, 9, tzinfo=UTC)


class FakeCalls(ReviewRepository):
    def __init__(self) -> None:  # no connection
        self.calls: dict[uuid.UUID, Call] = {}

    async def get_call(self, call_id: uuid.UUID) -> Call | None:
        return self.calls.get(call_id)

    async def save_call(self, announcement: CallAnnouncedV1) -> bool:
        self.calls[announcement.call_id] = Call(
            call_id=announcement.call_id,
            revision=announcement.revision,
            title=announcement.title,
            opens_at=announcement.opens_at,
            closes_at=announcement.closes_at,
            reviewers_per_iteration=announcement.reviewers_per_iteration,
        )
        return True


def announcement(call_id: uuid.UUID, revision: int) -> CallAnnouncedV1:
    return CallAnnouncedV1(
        call_id=call_id,
        revision=revision,
        title=f"Idea competition r{revision}",
        opens_at=NOW,
        closes_at=NOW + timedelta(days=revision),
        categories=[Category.EDUCATION],
        languages=[Language.SV],
        reviewers_per_iteration=2,
        criteria=list(QUALITY_INNOVATION_AWARD_CRITERIA),
    )


def test_only_a_higher_revision_is_news() -> None:
    assert domain.is_newer_announcement(known_revision=None, revision=1)
    assert domain.is_newer_announcement(known_revision=4, revision=5)
    assert not domain.is_newer_announcement(known_revision=5, revision=5)
    assert not domain.is_newer_announcement(known_revision=5, revision=4)


async def test_a_call_is_learned_and_stale_announcements_are_ignored() -> None:
    repo = FakeCalls()
    call_id = uuid.uuid4()
    for revision, commits in ((2, 1), (1, 0), (2, 0), (3, 1)):
        uow: FakeUnitOfWork[ReviewRepository] = FakeUnitOfWork(repo, service="review")
        await workflow.learn_call(uow=uow, announcement=announcement(call_id, revision))
        assert uow.commits == commits, f"revision {revision}"
    learned = repo.calls[call_id]
    assert (learned.revision, learned.title, learned.closes_at) == (3, "Idea competition r3", NOW + timedelta(days=3))
