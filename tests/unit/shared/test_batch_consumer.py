"""The batch protocol of the consumer, on a fake database: which events commit together, what is retried or
dead-lettered alone, what is skipped, and which offsets go to Kafka.

The fake connection keeps a working copy of the database while a transaction is open; a savepoint (a nested
``transaction()``) restores its copy when its block raises; the outermost block's end is the commit.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import pytest
from aiokafka import TopicPartition

from shared import consumer as consumer_module
from shared.consumer import EventConsumer, EventContext, EventRouter, PartitionResult, Record
from shared.events import CaseSubmittedV1, CloudEvent
from shared.kafka import BatchConsumer
from tests.support.fakes import FakeRecord as Rec
from tests.support.kafka import submitted

TOPIC = "kipina.test.batch.v1"
MAX_ATTEMPTS = 3


@dataclass
class State:
    inbox: set[uuid.UUID] = field(default_factory=set)
    effects: list[str] = field(default_factory=list)


@dataclass
class FakeDatabase:
    state: State = field(default_factory=State)
    commits: list[list[str]] = field(default_factory=list)  # the effects each commit added
    down: bool = False

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeConnection]:
        if self.down:
            raise ConnectionRefusedError("the database does not answer")
        yield FakeConnection(self)


class FakeConnection:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self.work: State | None = None
        self.saved: list[State] = []

    def transaction(self) -> _Transaction:
        return _Transaction(self)


class _Transaction:
    def __init__(self, conn: FakeConnection) -> None:
        self.conn = conn

    async def __aenter__(self) -> None:
        conn = self.conn
        if conn.work is None:
            conn.work = copy.deepcopy(conn.db.state)
        conn.saved.append(copy.deepcopy(conn.work))

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn = self.conn
        assert conn.work is not None
        before = conn.saved.pop()
        if exc is not None:
            conn.work = before
        if not conn.saved:  # the outermost block: commit, or roll back everything
            if exc is None:
                conn.db.commits.append(conn.work.effects[len(conn.db.state.effects) :])
                conn.db.state = conn.work
            conn.work = None


async def fake_claim(conn: FakeConnection, *, event_id: uuid.UUID, **_: Any) -> bool:
    assert conn.work is not None, "the inbox is claimed inside a transaction"
    if event_id in conn.work.inbox:
        return False
    conn.work.inbox.add(event_id)
    return True


class FakeReliabilityRepository:
    """The fast run's inbox statements on the fake connection (its outbox is not modelled here; the integration
    tests of the fast run check it on PostgreSQL)."""

    def __init__(self, conn: FakeConnection) -> None:
        self.conn = conn

    async def claim_inbox_many(self, *, consumer: str, events: list[Any]) -> set[uuid.UUID]:
        work = self.conn.work
        assert work is not None, "the inbox is claimed inside a transaction"
        new = {e.event_id for e in events} - work.inbox
        work.inbox |= new
        return set(new)

    async def release_inbox_claims(self, *, consumer: str, event_ids: set[uuid.UUID]) -> None:
        assert self.conn.work is not None
        self.conn.work.inbox -= set(event_ids)


async def no_outbox(conn: FakeConnection, events: list[Any]) -> None:
    assert not events, "the test handlers emit nothing"


def event(title: str, *, event_id: uuid.UUID | None = None) -> CloudEvent:
    return submitted(str(uuid.uuid4()), title, event_id=event_id)


def records(*values: bytes, partition: int = 0, first_offset: int = 10) -> list[Rec]:
    return [Rec(TOPIC, partition, first_offset + i, f"k{i}".encode(), v) for i, v in enumerate(values)]


class Harness:
    """An EventConsumer over the fake database; a handler that writes the title, or fails as the title says."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.db = FakeDatabase()
        self.attempts: dict[str, int] = {}
        self.dead_letters: list[tuple[int, str, int]] = []  # offset, reason, attempts
        self.committed_runs: list[list[int]] = []
        monkeypatch.setattr(consumer_module.inbox, "claim", fake_claim)
        monkeypatch.setattr(consumer_module, "ReliabilityRepository", FakeReliabilityRepository)
        monkeypatch.setattr(consumer_module.outbox, "enqueue_many", no_outbox)

        async def no_sleep(_: float) -> None:
            return None

        monkeypatch.setattr(consumer_module.asyncio, "sleep", no_sleep)
        router = EventRouter()

        @router.on(CaseSubmittedV1)
        async def handle(ctx: EventContext, payload: CaseSubmittedV1) -> None:
            title = payload.case.title
            self.attempts[title] = self.attempts.get(title, 0) + 1
            if title.startswith("poison"):
                raise RuntimeError(f"cannot digest {title}")
            if title.startswith("flaky") and self.attempts[title] == 1:
                raise RuntimeError(f"{title} fails once")
            if title.startswith("infra"):
                raise ConnectionResetError("connection lost")
            conn = ctx.conn
            assert isinstance(conn, FakeConnection) and conn.work is not None
            conn.work.effects.append(title)

        self.consumer = EventConsumer(
            service="batch-test",
            router=router,
            pool_provider=lambda: self.db,  # type: ignore[arg-type,return-value]
            dead_letters=lambda: None,  # type: ignore[arg-type,return-value]
            dead_letter_topic="kipina.test.batch.dlq",
            max_attempts=MAX_ATTEMPTS,
            backoff_base_s=0.0,
            on_committed=lambda done: self.committed_runs.append([r.offset for r in done]),
        )

        async def dead_letter(record: Record, *, error: str, attempts: int, reason: str, event: Any) -> None:
            self.dead_letters.append((record.offset, reason, attempts))

        monkeypatch.setattr(self.consumer, "_dead_letter", dead_letter)

    async def run(self, batch: list[Rec], stopping: Callable[[], bool] | None = None) -> PartitionResult:
        if stopping is None:
            return await self.consumer.process_partition(batch)
        return await self.consumer.process_partition(batch, stopping=stopping)


async def test_one_batch_of_every_kind_has_exact_outcomes_in_offset_order(monkeypatch: pytest.MonkeyPatch) -> None:
    h = Harness(monkeypatch)
    good1 = event("good 1")
    batch = records(
        good1.to_bytes(),  # 10
        event("flaky 1").to_bytes(),  # 11: fails in the batch, succeeds alone on its second attempt
        event("good 2").to_bytes(),  # 12
        good1.to_bytes(),  # 13: the same event again: the inbox skips it
        b'{"specversion": "1.0", "not": "an event',  # 14: malformed
        event("poison 1").to_bytes(),  # 15: always fails
        event("good 3").to_bytes(),  # 16
    )

    result = await h.run(batch)

    assert result == PartitionResult(done=7)
    # The domain changed once per good event, in offset order; the failing ones left nothing behind.
    assert h.db.state.effects == ["good 1", "flaky 1", "good 2", "good 3"]
    # Transactions: good 1 alone (the fast run is rolled back at the failing flaky 1, good 1 is done again in a
    # careful run, then flaky 1 runs alone), then good 2 with the duplicate (the run stops before the malformed
    # record), then good 3. Poison 1, first in its run, leaves no empty transaction behind.
    assert h.db.commits == [["good 1"], ["flaky 1"], ["good 2"], ["good 3"]]
    # What was reported done, before its offsets may go to Kafka: every record, each once, in order.
    assert h.committed_runs == [[10], [11], [12, 13], [14], [15], [16]]
    # The batch try was the first attempt: flaky 1 needed one more, poison 1 got exactly MAX_ATTEMPTS in all.
    # Good 1's handler ran twice (its first run was rolled back with flaky 1's): a handler's work is its
    # transaction's, so doing it again is harmless.
    assert h.attempts == {"good 1": 2, "flaky 1": 2, "good 2": 1, "poison 1": MAX_ATTEMPTS, "good 3": 1}
    assert h.dead_letters == [(14, "malformed", 0), (15, "handler_error", MAX_ATTEMPTS)]
    assert len(h.db.state.inbox) == 4  # the poison pill was never claimed


async def test_a_run_of_good_events_is_one_transaction(monkeypatch: pytest.MonkeyPatch) -> None:
    h = Harness(monkeypatch)
    batch = records(*(event(f"good {i}").to_bytes() for i in range(5)))
    assert await h.run(batch) == PartitionResult(done=5)
    assert h.db.commits == [[f"good {i}" for i in range(5)]]
    assert h.committed_runs == [[10, 11, 12, 13, 14]]


async def test_the_infrastructure_failing_stops_the_partition_after_what_committed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = Harness(monkeypatch)
    batch = records(event("good 1").to_bytes(), event("infra 1").to_bytes(), event("good 2").to_bytes())

    result = await h.run(batch)

    # A lost connection takes the whole run's transaction down (good 1 with it): the run's first record is handled
    # alone and committed; the next run fails at infra 1 again, which is retried alone MAX_ATTEMPTS times and
    # stops the partition without a dead letter: it and everything after it come again.
    assert result.done == 1 and isinstance(result.error, ConnectionResetError)
    assert h.db.commits == [["good 1"]] and h.db.state.effects == ["good 1"]
    assert h.dead_letters == []
    assert h.attempts == {"good 1": 2, "infra 1": 2 + MAX_ATTEMPTS}
    assert h.committed_runs == [[10]]


async def test_a_database_that_does_not_answer_commits_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    h = Harness(monkeypatch)
    h.db.down = True
    result = await h.run(records(event("good 1").to_bytes()))
    assert result.done == 0 and isinstance(result.error, OSError)
    assert h.db.commits == [] and h.dead_letters == [] and h.committed_runs == []


async def test_asked_to_stop_it_commits_what_is_done_and_leaves_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    h = Harness(monkeypatch)
    batch = records(*(event(f"good {i}").to_bytes() for i in range(5)))
    asked = iter([False, False, False, True])  # before the run, before event 0, before event 1, then: stop

    result = await h.run(batch, stopping=lambda: next(asked, True))

    assert result == PartitionResult(done=2)
    assert h.db.commits == [["good 0", "good 1"]]
    assert h.committed_runs == [[10, 11]]


class FakeKafkaConsumer:
    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))


async def test_offsets_are_committed_once_per_batch_and_never_past_a_record_not_done(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = Harness(monkeypatch)
    loop = BatchConsumer(
        "unused:9092",
        service="batch-test",
        group="g",
        topics=[TOPIC],
        handle=lambda batch, stopping: h.consumer.process_partition(batch, stopping=stopping),
    )
    kafka = FakeKafkaConsumer()
    tp0, tp1, tp2 = (TopicPartition(TOPIC, p) for p in range(3))
    batch = {
        tp0: records(event("good a").to_bytes(), event("poison a").to_bytes(), partition=0, first_offset=100),
        tp1: records(event("good b").to_bytes(), event("infra b").to_bytes(), event("good c").to_bytes(), partition=1),
        tp2: records(event("infra d").to_bytes(), partition=2, first_offset=7),
    }

    stalled = await loop._handle(kafka, batch)

    assert stalled  # a partition stopped on the infrastructure: the loop backs off before fetching again
    # One commit for the batch: partition 0 past its dead letter, partition 1 up to its failing record, none for 2.
    assert kafka.commits == [{tp0: 102, tp1: 11}]
    # The stopped partitions are read again from their first record not done.
    assert sorted(kafka.seeks) == [(tp1, 11), (tp2, 7)]
    assert sorted(h.db.state.effects) == ["good a", "good b"]
    assert h.dead_letters == [(101, "handler_error", MAX_ATTEMPTS)]


OTHER_TOPIC = "kipina.test.batch.other.v1"


def stamped(topic: str, partition: int, first_offset: int, *titled: tuple[str, int]) -> list[Rec]:
    return [
        Rec(topic, partition, first_offset + i, b"case", event(title).to_bytes(), timestamp=ts)
        for i, (title, ts) in enumerate(titled)
    ]


async def test_a_partition_number_is_one_lane_across_topics_in_the_order_of_publication(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A case's events on two topics are in the same partition number: they are handled one after the other, in
    the order they were published, so a review event never overtakes the submission that caused it."""
    h = Harness(monkeypatch)
    loop = BatchConsumer(
        "unused:9092",
        service="batch-test",
        group="g",
        topics=[TOPIC, OTHER_TOPIC],
        handle=lambda batch, stopping: h.consumer.process_partition(batch, stopping=stopping),
    )
    kafka = FakeKafkaConsumer()
    a0, b0, a1 = TopicPartition(TOPIC, 0), TopicPartition(OTHER_TOPIC, 0), TopicPartition(TOPIC, 1)
    batch = {
        # review's topic first in the batch, and fetched first: still handled after the submission it follows
        b0: stamped(OTHER_TOPIC, 0, 50, ("good b1", 2000), ("infra b2", 3000), ("good b3", 5000)),
        a0: stamped(TOPIC, 0, 10, ("good a1", 1000), ("good a2", 4000)),
        a1: stamped(TOPIC, 1, 70, ("good c1", 1500)),
    }

    stalled = await loop._handle(kafka, batch)

    assert stalled
    # Lane 0 in publication order up to the failing b2 (a2 comes after it and waits); lane 1 on its own.
    assert [e for e in h.db.state.effects if e != "good c1"] == ["good a1", "good b1"]
    assert "good c1" in h.db.state.effects
    assert kafka.commits == [{a0: 11, b0: 51, a1: 71}]
    assert sorted(kafka.seeks, key=lambda s: (s[0].topic, s[0].partition)) == [(b0, 51), (a0, 11)]


def test_the_lanes_keep_each_partitions_offset_order_whatever_the_timestamps() -> None:
    from shared.kafka import case_lanes

    a0, b0 = TopicPartition(TOPIC, 0), TopicPartition(OTHER_TOPIC, 0)
    # Two relays stamp one partition: a later offset may carry an earlier timestamp.
    a = stamped(TOPIC, 0, 0, ("x1", 3000), ("x2", 1000))
    b = stamped(OTHER_TOPIC, 0, 0, ("y1", 2000))
    (lane,) = case_lanes({a0: a, b0: b})  # type: ignore[dict-item]
    assert [(r.topic, r.offset) for r in lane if r.topic == TOPIC] == [(TOPIC, 0), (TOPIC, 1)]
    assert len(lane) == 3
