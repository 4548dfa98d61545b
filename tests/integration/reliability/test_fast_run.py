"""The consumer's fast run on the real database: a run of events in one transaction without savepoints, its inbox
claimed and its outbox inserted in one round trip each; and the ways it falls back.

Whether rows were written in one transaction and outside any savepoint is read off PostgreSQL itself: every row
a transaction writes carries its transaction id in ``xmin``, and a savepoint that writes gets an id of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest

from shared.consumer import EventConsumer, EventContext, EventRouter, PartitionResult
from shared.db import Connection
from shared.events import CaseSubmittedV1, CaseWithdrawnV1, CloudEvent
from tests.support.fakes import FakeRecord as Rec
from tests.support.infra import migrated_pool
from tests.support.kafka import submitted

pytestmark = pytest.mark.integration

PROBE_MIGRATIONS = Path(__file__).resolve().parents[2] / "support" / "probe_migrations"
TOPIC = "kipina.test.fast-run.v1"


class Effects:
    """The use cases' repository: one row per run of a use case in probe_effects."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def record(self, case_id: uuid.UUID, event_id: uuid.UUID, title: str) -> None:
        await self._conn.execute(
            "INSERT INTO probe_effects (case_id, event_id, title) VALUES ($1, $2, $3)", case_id, event_id, title
        )


class DeadLetters:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send(self, topic: str, *, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        self.sent.append(value)


def router() -> EventRouter:
    """A use case per event, as the services' are: a unit of work records the title and emits a withdrawal.

    A title with "forgetful" leaves its unit of work without committing after writing; "poison" raises.
    """
    events = EventRouter()

    @events.on(CaseSubmittedV1)
    async def record(ctx: EventContext, payload: CaseSubmittedV1) -> None:
        title = payload.case.title
        async with ctx.unit_of_work(Effects) as uow:
            await uow.repo.record(payload.case.case_id, ctx.event.id, title)
            if "poison" in title:
                raise RuntimeError(f"cannot digest {title}")
            if "forgetful" in title:
                return  # leaves without commit: what it wrote must not stay
            await uow.emit(CaseWithdrawnV1(case_id=payload.case.case_id, call_id=payload.case.call_id, reason=title))
            await uow.commit()

    return events


@pytest.fixture
async def pool(probe_db_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(probe_db_url, PROBE_MIGRATIONS) as migrated:
        yield migrated


@pytest.fixture
def dead_letters() -> DeadLetters:
    return DeadLetters()


@pytest.fixture
def consumer(pool: asyncpg.Pool, dead_letters: DeadLetters) -> EventConsumer:
    return EventConsumer(
        service="fastrun",
        router=router(),
        pool_provider=lambda: pool,
        dead_letters=lambda: dead_letters,
        dead_letter_topic="kipina.test.fast-run.dlq",
        max_attempts=2,
        backoff_base_s=0.0,
    )


def run_of(*events: CloudEvent) -> list[Rec]:
    return [Rec(TOPIC, 0, 100 + i, e.subject.encode(), e.to_bytes()) for i, e in enumerate(events)]


def cases(*titles: str) -> list[CloudEvent]:
    return [submitted(str(uuid.uuid4()), title) for title in titles]


async def effects(pool: asyncpg.Pool) -> list[str]:
    return [r["title"] for r in await pool.fetch("SELECT title FROM probe_effects ORDER BY id")]


async def outbox_reasons(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT payload FROM outbox WHERE event_type = $1 ORDER BY id", CaseWithdrawnV1.event_type)
    return [CloudEvent.model_validate_json(bytes(r["payload"])).data["reason"] for r in rows]


async def test_a_run_of_good_events_is_one_transaction_without_savepoints(
    pool: asyncpg.Pool, consumer: EventConsumer
) -> None:
    batch = cases(*(f"good {i}" for i in range(6)))

    assert await consumer.process_partition(run_of(*batch)) == PartitionResult(done=6)

    assert await effects(pool) == [f"good {i}" for i in range(6)]
    # Each use case's event, in the order of the run (the outbox's ids are the relay's order).
    assert await outbox_reasons(pool) == [f"good {i}" for i in range(6)]
    assert {r["event_id"] for r in await pool.fetch("SELECT event_id FROM inbox")} == {e.id for e in batch}
    # Inbox, domain rows and outbox rows: all written by one and the same transaction, none in a savepoint.
    xmins = await pool.fetch(
        """
        SELECT xmin::text FROM inbox UNION SELECT xmin::text FROM probe_effects UNION SELECT xmin::text FROM outbox
        """
    )
    assert len(xmins) == 1


async def test_the_same_run_again_changes_nothing(pool: asyncpg.Pool, consumer: EventConsumer) -> None:
    first, second = cases("once a", "once b")
    # The same event twice inside one run, then the whole run delivered again.
    assert await consumer.process_partition(run_of(first, first, second)) == PartitionResult(done=3)
    assert await consumer.process_partition(run_of(first, first, second)) == PartitionResult(done=3)

    assert await effects(pool) == ["once a", "once b"]
    assert await outbox_reasons(pool) == ["once a", "once b"]


async def test_a_use_case_left_without_commit_is_undone_alone(pool: asyncpg.Pool, consumer: EventConsumer) -> None:
    batch = cases("good 1", "forgetful 2", "good 3")

    assert await consumer.process_partition(run_of(*batch)) == PartitionResult(done=3)

    # The forgetful use case's row is gone, the others' stay; every event is claimed once, none dead-lettered.
    assert await effects(pool) == ["good 1", "good 3"]
    assert await outbox_reasons(pool) == ["good 1", "good 3"]
    assert await pool.fetchval("SELECT count(*) FROM inbox") == 3
    assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 0


async def test_a_failing_handler_is_dead_lettered_alone_and_the_rest_is_kept(
    pool: asyncpg.Pool, consumer: EventConsumer, dead_letters: DeadLetters
) -> None:
    batch = cases("good 1", "poison 2", "good 3")

    assert await consumer.process_partition(run_of(*batch)) == PartitionResult(done=3)

    assert await effects(pool) == ["good 1", "good 3"]
    assert await outbox_reasons(pool) == ["good 1", "good 3"]
    assert dead_letters.sent == [batch[1].to_bytes()]
    stored = await pool.fetch("SELECT event_id, attempts FROM dead_letters")
    assert [(r["event_id"], r["attempts"]) for r in stored] == [(str(batch[1].id), 2)]
    # The poison event was never claimed: a replay after the fix would handle it.
    assert batch[1].id not in {r["event_id"] for r in await pool.fetch("SELECT event_id FROM inbox")}


async def test_asked_to_stop_mid_run_it_commits_what_is_done_and_forgets_the_rest(
    pool: asyncpg.Pool, consumer: EventConsumer
) -> None:
    batch = cases(*(f"good {i}" for i in range(5)))
    asked = iter([False, False, False, True])  # before the run, before event 0, before event 1, then: stop
    stopping: Callable[[], bool] = lambda: next(asked, True)  # noqa: E731

    assert await consumer.process_partition(run_of(*batch), stopping=stopping) == PartitionResult(done=2)

    assert await effects(pool) == ["good 0", "good 1"]
    # The run claimed all five in one statement; the three it did not handle are not left claimed.
    claimed = {r["event_id"] for r in await pool.fetch("SELECT event_id FROM inbox")}
    assert claimed == {batch[0].id, batch[1].id}
    # Whoever reads the partition next handles them.
    assert await consumer.process_partition(run_of(*batch[2:])) == PartitionResult(done=3)
    assert await effects(pool) == [f"good {i}" for i in range(5)]
