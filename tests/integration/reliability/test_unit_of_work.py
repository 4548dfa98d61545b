"""The unit of work against the real database: commit, roll back unless committed, savepoints, one way to emit."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared import tracing
from shared.db import DATABASE_AWAY, Connection
from shared.events import CaseWithdrawnV1, CloudEvent, IterationEscalatedV1
from shared.uow import Origin, UndeclaredEvent, UnitOfWork

pytestmark = pytest.mark.integration


class EffectsRepository:
    """A repository over the probe's test table, as a service's would be over its own."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def record(self, case_id: uuid.UUID, title: str) -> None:
        await self._conn.execute(
            "INSERT INTO probe_effects (case_id, event_id, title) VALUES ($1, $2, $3)", case_id, uuid.uuid4(), title
        )


def unit(probe: Any, *, correlation_id: str = "corr-1") -> UnitOfWork[EffectsRepository]:
    origin = Origin(service="probe", correlation_id=correlation_id, publishes=frozenset({CaseWithdrawnV1}))
    return UnitOfWork(probe.pool, repository=EffectsRepository, origin=origin)


async def _facts(probe: Any, case_id: uuid.UUID) -> tuple[int, list[Any]]:
    effects = await probe.pool.fetchval("SELECT count(*) FROM probe_effects WHERE case_id = $1", case_id)
    outbox = await probe.pool.fetch("SELECT * FROM outbox WHERE message_key = $1 ORDER BY id", str(case_id))
    return int(effects), list(outbox)


async def test_commit_keeps_the_change_and_its_event_together(probe) -> None:
    case_id = uuid.uuid4()
    with tracing.span("test request") as span:
        async with unit(probe) as uow:
            await uow.repo.record(case_id, "kept")
            event = await uow.emit(CaseWithdrawnV1(case_id=case_id, call_id=uuid.uuid4(), reason="r"))
            await uow.commit()
    effects, outbox = await _facts(probe, case_id)
    assert effects == 1
    assert [r["event_id"] for r in outbox] == [event.id]
    stored = CloudEvent.model_validate_json(bytes(outbox[0]["payload"]))
    assert stored.subject == str(case_id) and stored.correlationid == "corr-1" and stored.causationid is None
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert stored.traceparent is not None and stored.traceparent.split("-")[1] == trace_id
    assert outbox[0]["traceparent"] == stored.traceparent


async def test_leaving_without_commit_rolls_back_and_returns_the_connection(probe) -> None:
    case_id = uuid.uuid4()
    free_before = probe.pool.get_idle_size()
    async with unit(probe) as uow:
        await uow.repo.record(case_id, "forgotten")
        await uow.emit(CaseWithdrawnV1(case_id=case_id, call_id=uuid.uuid4()))
    with pytest.raises(RuntimeError, match="refused"):
        async with unit(probe) as uow:
            await uow.repo.record(case_id, "refused half-way")
            raise RuntimeError("refused")
    assert await _facts(probe, case_id) == (0, [])
    assert probe.pool.get_idle_size() >= free_before


async def test_a_connection_cut_under_it_is_not_used_again(probe, infra_env) -> None:
    """The database ended the session (a restart) under a unit of work: what it was doing fails as the database
    away (a 503 over HTTP, a retry for a consumer), and the pool hands out no stale connection afterwards."""
    import asyncpg

    admin = infra_env.get("KIPINA_PG_ADMIN_URL")
    if not admin:
        pytest.skip("needs the admin URL to end a session")
    case_id = uuid.uuid4()
    # asyncpg reports it as the shutdown, the connection gone, or (the session's end read while idle) a connection
    # stuck mid-operation: all of them the database away.
    with pytest.raises(DATABASE_AWAY):
        async with unit(probe) as uow:
            await uow.repo.record(case_id, "cut")
            backend = await uow.conn.fetchval("SELECT pg_backend_pid()")
            conn = await asyncpg.connect(admin)
            try:
                assert await conn.fetchval("SELECT pg_terminate_backend($1)", backend)
            finally:
                await conn.close()
            await uow.repo.record(case_id, "after the cut")
    # Every connection of the pool works, all of them at once: the cut one was not given back.
    held = [await probe.pool.acquire() for _ in range(probe.pool.get_max_size())]
    try:
        assert [await conn.fetchval("SELECT 1") for conn in held] == [1] * len(held)
    finally:
        for conn in held:
            await probe.pool.release(conn)


async def test_inside_an_open_transaction_it_is_a_savepoint(probe) -> None:
    case_id = uuid.uuid4()
    async with probe.pool.acquire() as conn, conn.transaction():  # as the consumer holds its inbox claim
        await EffectsRepository(conn).record(case_id, "outer")
        origin = Origin(service="probe", correlation_id="c", causation_id="cause-1")
        async with UnitOfWork(conn, repository=EffectsRepository, origin=origin) as uow:
            await uow.repo.record(case_id, "inner, rolled back")
        async with UnitOfWork(conn, repository=EffectsRepository, origin=origin) as uow:
            await uow.repo.record(case_id, "inner, kept")
            event = await uow.emit(CaseWithdrawnV1(case_id=case_id, call_id=uuid.uuid4()))
            await uow.commit()
    titles = [
        r["title"]
        for r in await probe.pool.fetch("SELECT title FROM probe_effects WHERE case_id = $1 ORDER BY id", case_id)
    ]
    assert titles == ["outer", "inner, kept"]
    assert event.causationid == "cause-1"


async def test_an_undeclared_event_is_refused_and_nothing_is_written(probe) -> None:
    case_id = uuid.uuid4()
    with pytest.raises(UndeclaredEvent, match="IterationEscalatedV1"):
        async with unit(probe) as uow:
            await uow.repo.record(case_id, "with a stray event")
            await uow.emit(
                IterationEscalatedV1(case_id=case_id, call_id=uuid.uuid4(), iteration=1, due_at="2026-01-01T00:00Z")
            )
            await uow.commit()
    assert await _facts(probe, case_id) == (0, [])


async def test_a_unit_of_work_is_opened_once_at_a_time(probe) -> None:
    uow = unit(probe)
    async with uow:
        with pytest.raises(RuntimeError, match="already open"):
            await uow.__aenter__()
    with pytest.raises(RuntimeError, match="not open"):
        _ = uow.repo
