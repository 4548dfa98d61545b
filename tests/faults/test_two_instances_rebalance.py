"""Two instances of one service (review) share its database and consumer group while events flow and the group
rebalances: each case's events stay in order and each event is handled exactly once.

Every case has two events on its partition, submitted then withdrawn, produced at a steady pace until the group
changes are over (so each happens while events arrive, whatever the machine's speed), with small batches
(``KIPINA_REVIEW_CONSUMER_MAX_RECORDS``) and a backlog, so a member is in a batch, or about to take one, when its
partitions are revoked:

- ``test_instance_joins_then_one_stops_gracefully``: a second instance joins mid-flow (the first hands its
  partitions over on revoke), then the first is stopped with SIGTERM mid-flow (it drains, commits and leaves). Both
  hand-overs commit what was done before the partitions move, so no event comes again: no "already handled;
  skipped" at all.
- ``test_instance_killed_the_other_takes_over``: one of two instances is SIGKILLed while it has events committed
  in the database but not in Kafka (frozen with SIGSTOP and looked at: killed if so, else let go on); after its
  session times out the survivor takes its partitions, and exactly those events come again, each turned away once
  by the inbox.

Afterwards, in both: every event is in review's inbox exactly once; every case is withdrawn with exactly one
iteration and one review task (both cancelled) and one iteration_opened in the outbox. The order check is the
domain state: a withdrawal handled before its submission finds no case and is ignored ("withdrawal of an unknown
case ignored"), and the submission handled after it opens a case that stays ``in_review`` with a queued task — so
"withdrawn, iteration and task cancelled" for every case fails if any case's order broke. The inbox's
``processed_at`` (its transaction's start) of each submission is also not after its withdrawal's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from deploy.stack import start_service, stop_process, wait_ready
from shared import topics
from shared.events import CONTENT_TYPE, CaseSubmittedV1, CaseWithdrawnV1, IterationOpenedV1, new_event
from tests.faults.test_kill_after_commit import free_port
from tests.support.harness import eventually
from tests.support.infra import database_env_name, own_database, reset_database, unique_group
from tests.support.kafka import committed_offsets, submitted
from tests.support.reliability import Reliability, Row

pytestmark = pytest.mark.faults

MAX_CASES = 3000  # the flow stops when the group changes are over, or here
MAX_RECORDS = 20  # small batches: a member with a backlog is in a batch, or about to take one, when it is revoked
CHUNK = 5  # cases produced at a time, with a short pause between: about 200 cases/s at most


@dataclass(frozen=True)
class Produced:
    event_id: uuid.UUID
    case_id: str
    kind: str  # "submitted" | "withdrawn"
    partition: TopicPartition
    offset: int


@dataclass
class Instance:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def assigned(self) -> set[int] | None:
        """The intake partitions of its latest assignment, from its log; None before its first."""
        latest: set[int] | None = None
        for line in _json_lines(self.log):
            if line.get("event") == "partitions assigned":
                latest = {int(p.rsplit(":", 1)[1]) for p in line["partitions"] if p.startswith(f"{topics.INTAKE}:")}
        return latest

    def assignments(self) -> int:
        return sum(1 for line in _json_lines(self.log) if line.get("event") == "partitions assigned")


def _json_lines(path: Path) -> list[dict[str, Any]]:
    """The log's complete JSON lines. The log is read while its process writes it (the last line may be half
    written) and after a SIGKILL (which can cut a line short): such a line is not a fact yet, so it is left out."""
    if not path.exists():
        return []
    complete = path.read_text().split("\n")[:-1]  # what follows the last newline is still being written
    lines = []
    for line in complete:
        if line.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):
                lines.append(json.loads(line))
    return lines


def skipped_redeliveries(log: Path, case_ids: set[str]) -> int:
    return sum(
        1
        for line in _json_lines(log)
        if line.get("event") == "event already handled; skipped" and line.get("case_id") in case_ids
    )


def unknown_withdrawals(log: Path) -> int:
    """Withdrawals handled before their submission (the database is the test's own: any is one of its cases)."""
    return sum(1 for line in _json_lines(log) if line.get("event") == "withdrawal of an unknown case ignored")


class Flow:
    """Produces cases at a steady pace in the background until told to stop, remembering where each event landed.

    The flow goes on until the group changes are over, so each happens while events arrive, whatever the machine's
    speed; ``MAX_CASES`` bounds it.
    """

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self.case_ids: list[str] = []
        self.events: dict[uuid.UUID, Produced] = {}
        self.task: asyncio.Task[None] | None = None
        self._enough = asyncio.Event()

    @property
    def producing(self) -> bool:
        return self.task is not None and not self.task.done()

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def finish(self) -> None:
        """Stop producing; returns when every event produced is acknowledged by Kafka."""
        self._enough.set()
        assert self.task is not None
        await self.task

    async def _run(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, enable_idempotence=True, acks="all", linger_ms=5)
        await producer.start()
        try:
            while not self._enough.is_set() and len(self.case_ids) < MAX_CASES:
                sent = []
                for _ in range(CHUNK):
                    case_id = str(uuid.uuid4())
                    first = submitted(case_id, f"case {case_id[:8]}")
                    payload = first.payload()
                    assert isinstance(payload, CaseSubmittedV1)
                    withdrawn = new_event(
                        CaseWithdrawnV1(case_id=uuid.UUID(case_id), call_id=payload.case.call_id, reason="rebalance"),
                        service="intake",
                        subject=case_id,
                        correlation_id=first.correlationid,
                    )
                    for kind, event in (("submitted", first), ("withdrawn", withdrawn)):
                        future = await producer.send(
                            topics.INTAKE,
                            value=event.to_bytes(),
                            key=case_id.encode(),
                            headers=[("content-type", CONTENT_TYPE.encode())],
                        )
                        sent.append((kind, case_id, event.id, future))
                    self.case_ids.append(case_id)
                for kind, case_id, event_id, future in sent:
                    meta = await future
                    tp = TopicPartition(meta.topic, meta.partition)
                    self.events[event_id] = Produced(event_id, case_id, kind, tp, meta.offset)
                await asyncio.sleep(0.02)  # pacing only (never a check): the flow lasts through the group changes
        finally:
            await producer.stop()


async def start_instance(name: str, env: dict[str, str], tmp_path: Path) -> Instance:
    port = free_port()
    instance_env = {**env, "KIPINA_REVIEW_PORT": str(port)}
    log = tmp_path / f"review-{name}.log"
    process = start_service("review", env=instance_env, log_path=log)
    instance = Instance(name, process, f"http://127.0.0.1:{port}", log)
    await asyncio.to_thread(wait_ready, instance.url, timeout=120, process=process)
    return instance


async def stop_gracefully(instance: Instance) -> int:
    """SIGTERM (the lifespan drains the batch in hand and commits before leaving the group); its exit code."""
    await asyncio.to_thread(stop_process, instance.process.pid, timeout=60)
    return await asyncio.to_thread(instance.process.wait, 30)


async def split_between(instances: list[Instance], partitions: int, what: str) -> None:
    """Wait until the latest assignments of the instances share out all intake partitions, none left empty."""

    async def shared_out() -> bool:
        found = [instance.assigned() for instance in instances]
        if any(not parts for parts in found):
            return False
        union = set().union(*(parts for parts in found if parts))
        return len(union) == partitions and sum(len(parts or ()) for parts in found) == partitions

    await eventually(shared_out, timeout=90, interval=0.1, what=what)


class Review:
    """review's database (the test's own, so everything in it is the test's), seen from the test."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def handled(self) -> set[uuid.UUID]:
        try:
            return {r["event_id"] for r in await self.conn.fetch("SELECT event_id FROM inbox")}
        except asyncpg.UndefinedTableError:  # not migrated yet
            return set()

    async def handled_count(self) -> int:
        try:
            return int(await self.conn.fetchval("SELECT count(*) FROM inbox"))
        except asyncpg.UndefinedTableError:
            return 0

    async def assert_exactly_once_and_in_order(self, flow: Flow, row: Row) -> None:
        event_ids = list(flow.events)
        case_ids = flow.case_ids
        row.cases_driven = len(case_ids)
        assert len(event_ids) == 2 * len(case_ids)
        inbox = await self.conn.fetch(
            "SELECT event_id, count(*) AS n, min(processed_at) AS at FROM inbox WHERE event_id = ANY($1::uuid[])"
            " GROUP BY event_id",
            event_ids,
        )
        # Lost: an event never handled; a duplicate: an event handled twice (what people would see twice).
        handled = {r["event_id"] for r in inbox}
        row.cases_lost = len({flow.events[e].case_id for e in event_ids if e not in handled})
        row.duplicates_seen = sum(r["n"] - 1 for r in inbox)
        assert len(inbox) == len(event_ids) and all(r["n"] == 1 for r in inbox), "an event lost, or claimed twice"
        per_case = await self.conn.fetch(
            "SELECT c.case_id, c.status,"
            " (SELECT count(*) FROM iterations i WHERE i.case_id = c.case_id) AS iterations,"
            " (SELECT count(*) FROM iterations i WHERE i.case_id = c.case_id AND i.status = 'cancelled') AS cancelled,"
            " (SELECT count(*) FROM review_tasks t WHERE t.case_id = c.case_id) AS tasks,"
            " (SELECT count(*) FROM review_tasks t WHERE t.case_id = c.case_id AND t.status = 'cancelled')"
            "   AS tasks_cancelled"
            " FROM cases c WHERE c.case_id = ANY($1::uuid[])",
            [uuid.UUID(c) for c in case_ids],
        )
        assert len(per_case) == len(case_ids)
        wrong = [
            dict(r)
            for r in per_case
            if (r["status"], r["iterations"], r["cancelled"], r["tasks"], r["tasks_cancelled"])
            != ("withdrawn", 1, 1, 1, 1)
        ]
        assert not wrong, f"cases out of order (a withdrawal before its submission), or worked twice: {wrong[:3]}"
        emitted = await self.conn.fetch(
            "SELECT message_key, count(*) AS n FROM outbox WHERE event_type = $1 AND message_key = ANY($2::text[])"
            " GROUP BY message_key",
            IterationOpenedV1.event_type,
            case_ids,
        )
        assert len(emitted) == len(case_ids) and all(r["n"] == 1 for r in emitted)
        # Each run's processed_at is its transaction's start: a submission's is never after its withdrawal's.
        at = {r["event_id"]: r["at"] for r in inbox}
        submitted_at = {e.case_id: at[e.event_id] for e in flow.events.values() if e.kind == "submitted"}
        late = [
            e.case_id
            for e in flow.events.values()
            if e.kind == "withdrawn" and at[e.event_id] < submitted_at[e.case_id]
        ]
        assert not late, f"a withdrawal's transaction started before its submission's: {late[:3]}"


async def setup(infra_env: dict[str, str], label: str) -> tuple[str, str, dict[str, str], int]:
    bootstrap = infra_env["KIPINA_KAFKA_BOOTSTRAP"]
    db_url = await own_database(infra_env, "review", f"fault_review_{label}")
    await reset_database(db_url)
    group = unique_group(f"fault-review-{label}")  # pinned to the end of the topics: it sees only what follows
    partitions = len(await committed_offsets(bootstrap, group, topic=topics.INTAKE))
    assert partitions >= 2, "two instances need at least two partitions to share"
    env = {
        **os.environ,
        database_env_name("review"): db_url,
        "KIPINA_REVIEW_CONSUMER_GROUP": group,
        "KIPINA_REVIEW_CONSUMER_MAX_RECORDS": str(MAX_RECORDS),
    }
    return bootstrap, group, env, partitions


async def wait_until_done(review: Review, flow: Flow, bootstrap: str, group: str) -> None:
    """Stop the flow, then wait for every event in the inbox and the group's offsets committed to the end.

    Not for "every case withdrawn": a case out of order never gets there, and the assertions say which it is.
    """
    await flow.finish()

    async def all_handled() -> bool:
        return set(flow.events) <= await review.handled()

    await eventually(all_handled, timeout=180, what=f"all {len(flow.events)} events in review's inbox")
    ends: dict[TopicPartition, int] = {}
    for event in flow.events.values():
        ends[event.partition] = max(ends.get(event.partition, 0), event.offset + 1)

    async def offsets_caught_up() -> bool:
        committed = await committed_offsets(bootstrap, group, topic=topics.INTAKE)
        return all(committed.get(tp, -1) >= end for tp, end in ends.items())

    await eventually(offsets_caught_up, timeout=60, what="review's offsets committed to the end")


async def test_instance_joins_then_one_stops_gracefully(infra_env, tmp_path, reliability: Reliability) -> None:
    row = reliability.row("Faults", "two review instances: one joins mid-flow, then one stops (SIGTERM) mid-flow")
    row.faults_injected = 2
    bootstrap, group, env, partitions = await setup(infra_env, "join")
    conn = await asyncpg.connect(env[database_env_name("review")])
    review = Review(conn)
    flow = Flow(bootstrap)
    instances: list[Instance] = []
    try:
        first = await start_instance("a", env, tmp_path)
        instances.append(first)
        flow.start()

        async def under_way() -> bool:
            return await review.handled_count() >= 200

        await eventually(under_way, timeout=120, interval=0.05, what="the first instance under way")
        second = await start_instance("b", env, tmp_path)
        instances.append(second)
        await split_between(instances, partitions, "the partitions shared out between the two instances")
        at_join = (len(flow.events), await review.handled_count())
        assert flow.producing, "the flow ended before the join: the test proves nothing"

        # The second instance works its partitions: their committed offsets move past where they were at the join.
        its = {TopicPartition(topics.INTAKE, p) for p in second.assigned() or ()}
        at_its_start = await committed_offsets(bootstrap, group, topic=topics.INTAKE)

        async def second_working() -> bool:
            now = await committed_offsets(bootstrap, group, topic=topics.INTAKE)
            return any(now.get(tp, 0) > at_its_start.get(tp, 0) for tp in its)

        await eventually(second_working, timeout=60, interval=0.05, what="the second instance handling its partitions")

        at_stop = (len(flow.events), await review.handled_count())
        code = await stop_gracefully(first)
        instances.remove(first)
        assert code == 0, f"the first instance did not stop gracefully (exit {code}): {first.log.read_text()[-3000:]}"

        async def survivor_has_all() -> bool:
            return second.assigned() == set(range(partitions)) and second.assignments() >= 2

        await eventually(survivor_has_all, timeout=90, interval=0.1, what="the second instance owning every partition")
        assert flow.producing, "the flow ended before the stop's hand-over: the test proves less than it says"
        await wait_until_done(review, flow, bootstrap, group)
        code = await stop_gracefully(second)
        instances.remove(second)
        assert code == 0, f"the second instance did not stop gracefully (exit {code})"

        await review.assert_exactly_once_and_in_order(flow, row)
    finally:
        if flow.producing:
            await flow.finish()
        for instance in instances:
            await asyncio.to_thread(stop_process, instance.process.pid)
        await conn.close()

    wanted = set(flow.case_ids)
    logs = [tmp_path / "review-a.log", tmp_path / "review-b.log"]
    assert sum(unknown_withdrawals(log) for log in logs) == 0
    skipped = [skipped_redeliveries(log, wanted) for log in logs]
    # Both hand-overs (revoke on the join, drain on SIGTERM) committed what was done before the partitions moved.
    assert skipped == [0, 0], f"events came again after a graceful hand-over: {skipped}"
    print(
        f"\n{len(flow.events)} events of {len(flow.case_ids)} cases; join with {at_join[0]} produced, {at_join[1]} "
        f"handled; SIGTERM with {at_stop[0]} produced, {at_stop[1]} handled; redeliveries skipped: {sum(skipped)}; "
        "every event exactly once, every case in order"
    )


async def test_instance_killed_the_other_takes_over(infra_env, tmp_path, reliability: Reliability) -> None:
    row = reliability.row("Faults", "two review instances: one SIGKILLed mid-flow, the other takes its partitions")
    row.faults_injected = 1
    bootstrap, group, env, partitions = await setup(infra_env, "kill")
    conn = await asyncpg.connect(env[database_env_name("review")])
    review = Review(conn)
    flow = Flow(bootstrap)
    instances: list[Instance] = []
    try:
        doomed = await start_instance("a", env, tmp_path)
        instances.append(doomed)
        survivor = await start_instance("b", env, tmp_path)
        instances.append(survivor)
        await split_between(instances, partitions, "the partitions shared out between the two instances")
        theirs = {TopicPartition(topics.INTAKE, p) for p in doomed.assigned() or ()}
        flow.start()

        async def done_not_committed() -> int:
            """Events on the doomed instance's partitions committed in the database, their offsets not in Kafka."""
            # Kafka first, then the database: read while it is frozen or dead, whatever it sent before (a COMMIT,
            # an offset commit) has long been applied by the time these answer.
            committed = await committed_offsets(bootstrap, group, topic=topics.INTAKE)
            handled = await review.handled()
            return sum(
                1
                for event in list(flow.events.values())
                if event.partition in theirs
                and event.event_id in handled
                and event.offset >= committed.get(event.partition, 0)
            )

        async def killed_mid_batch() -> bool:
            """Freeze it (SIGSTOP), look: with events done in the database and not in Kafka, kill it; else go on."""
            if await review.handled_count() < 300:
                return False
            os.killpg(doomed.process.pid, signal.SIGSTOP)
            if await done_not_committed() > 0:
                os.killpg(doomed.process.pid, signal.SIGKILL)
                return True
            os.killpg(doomed.process.pid, signal.SIGCONT)
            return False

        await eventually(killed_mid_batch, timeout=120, interval=0.01, what="the doomed instance killed mid-batch")
        await asyncio.to_thread(doomed.process.wait, 30)
        instances.remove(doomed)
        # Its partitions stay where it left them until its session times out and the survivor takes them.
        assert survivor.assigned() != set(range(partitions)), "the survivor took over before the count"
        expected_skips = await done_not_committed()
        at_kill = (len(flow.events), await review.handled_count())
        assert expected_skips > 0, "the kill did not come inside a batch: the test proves less than it says"

        async def survivor_has_all() -> bool:
            return survivor.assigned() == set(range(partitions))

        await eventually(survivor_has_all, timeout=90, interval=0.1, what="the survivor owning every partition")
        assert flow.producing, "the flow ended before the take-over: the test proves less than it says"
        await wait_until_done(review, flow, bootstrap, group)
        code = await stop_gracefully(survivor)
        instances.remove(survivor)
        assert code == 0, f"the survivor did not stop gracefully (exit {code})"

        await review.assert_exactly_once_and_in_order(flow, row)
    finally:
        if flow.producing:
            await flow.finish()
        for instance in instances:
            await asyncio.to_thread(stop_process, instance.process.pid)
        await conn.close()

    wanted = set(flow.case_ids)
    logs = [tmp_path / "review-a.log", tmp_path / "review-b.log"]
    assert sum(unknown_withdrawals(log) for log in logs) == 0
    # Exactly what the killed instance had committed in the database and not in Kafka came again, on the survivor,
    # each turned away by the inbox once; the survivor's own hand-over (revoke, then the new assignment) added none.
    skipped = skipped_redeliveries(tmp_path / "review-b.log", wanted)
    assert skipped == expected_skips, (skipped, expected_skips)
    print(
        f"\n{len(flow.events)} events of {len(flow.case_ids)} cases; SIGKILL with {at_kill[0]} produced, "
        f"{at_kill[1]} handled, {expected_skips} on its partitions committed in the database but not in Kafka; "
        f"{skipped} came again on the survivor and were skipped; every event exactly once, every case in order"
    )
