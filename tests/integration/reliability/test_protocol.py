"""The reliability protocol against the real broker and database, through the probe service."""

from __future__ import annotations

import uuid

import pytest

from shared import topics
from shared.events import CaseSubmittedV1, DeadLetteredV1
from tests.support import probe_service
from tests.support.harness import auth, eventually
from tests.support.kafka import TopicWatcher, produce, produce_event, submitted, watch
from tests.support.probe_service import PROBE_DLQ, PROBE_TOPIC
from tests.support.reliability import Reliability

pytestmark = pytest.mark.integration


async def test_redelivered_event_changes_nothing_the_second_time(probe, infra_env) -> None:
    bootstrap = infra_env["KIPINA_KAFKA_BOOTSTRAP"]
    case_id = str(uuid.uuid4())
    first = submitted(case_id, "first")
    await produce_event(bootstrap, first, topic=PROBE_TOPIC)
    await eventually(lambda: probe.effects(case_id), what="first event handled")

    await produce_event(bootstrap, first, topic=PROBE_TOPIC)  # the same event, delivered again
    marker = submitted(case_id, "marker")  # same key → same partition → handled after the duplicate
    await produce_event(bootstrap, marker, topic=PROBE_TOPIC)

    async def marker_seen() -> list[dict[str, object]] | None:
        effects = await probe.effects(case_id)
        return effects if any(e["title"] == "marker" for e in effects) else None

    effects = await eventually(marker_seen, what="marker handled")
    assert [e["title"] for e in effects] == ["first", "marker"]
    handled = await probe.pool.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", first.id)
    assert handled == 1


async def test_malformed_event_is_dead_lettered_and_the_next_is_processed(probe, infra_env) -> None:
    bootstrap = infra_env["KIPINA_KAFKA_BOOTSTRAP"]
    case_id = str(uuid.uuid4())
    async with watch(bootstrap, PROBE_DLQ, topics.OPERATIONS) as dlq:
        await produce(bootstrap, PROBE_TOPIC, key=case_id.encode(), value=b'{"specversion": "1.0", "not": "an event')
        await produce_event(bootstrap, submitted(case_id, "after the garbage"), topic=PROBE_TOPIC)

        effects = await eventually(lambda: probe.effects(case_id), what="the event after the malformed one")
        assert [e["title"] for e in effects] == ["after the garbage"]

        records = await eventually(
            lambda: _async(dlq.matching(lambda r: r.key == case_id.encode())), what="dead letter on the DLQ topic"
        )
        row = await probe.pool.fetchrow("SELECT * FROM dead_letters WHERE message_key = $1", case_id.encode())
        announced = await _announcement_of(dlq, row["id"])
    headers = dict(records[0].headers)
    assert records[0].value == b'{"specversion": "1.0", "not": "an event'
    assert headers["dlq-source-topic"] == PROBE_TOPIC.encode()
    assert headers["dlq-reason"] == b"malformed"
    assert int(headers["dlq-source-offset"]) >= 0
    assert "dlq-source-partition" in headers and "dlq-error" in headers and headers["dlq-attempts"] == b"0"
    assert row is not None and row["error"].startswith("malformed")
    assert announced.source_topic == PROBE_TOPIC and announced.reason == "malformed"
    assert announced.event_type_seen is None and announced.attempts == 0


async def _announcement_of(watcher: TopicWatcher, dead_letter_id: int) -> DeadLetteredV1:
    """The DeadLetteredV1 the probe published (through its outbox) for one of its dead letters, exactly once."""

    async def published() -> list[DeadLetteredV1] | None:
        found = [
            p
            for e in watcher.events(event_type=DeadLetteredV1.event_type)
            if isinstance(p := e.payload(), DeadLetteredV1)
            and p.service == "probe"
            and p.dead_letter_id == dead_letter_id
        ]
        return found or None

    found = await eventually(published, what=f"DeadLetteredV1 of dead letter {dead_letter_id}")
    await watcher.caught_up()
    found = await published() or []
    assert len(found) == 1, found
    return found[0]


async def test_unknown_event_type_is_dead_lettered(probe, infra_env) -> None:
    bootstrap = infra_env["KIPINA_KAFKA_BOOTSTRAP"]
    case_id = str(uuid.uuid4())
    unknown = submitted(case_id, "x").model_copy(update={"type": "kipina.case.teleported.v9"})
    async with watch(bootstrap, PROBE_DLQ) as dlq:
        await produce_event(bootstrap, unknown, topic=PROBE_TOPIC)
        records = await eventually(
            lambda: _async(dlq.matching(lambda r: r.key == case_id.encode())), what="unknown type dead-lettered"
        )
    assert dict(records[0].headers)["dlq-reason"] == b"unknown_type"
    assert await probe.effects(case_id) == []


async def test_a_handler_failing_transiently_is_retried_with_backoff_and_the_event_handled_once_in_order(
    probe, infra_env
) -> None:
    """The handler fails the first two tries of the flaky event (its dependency away), then succeeds: the consumer
    retries it with backoff within KIPINA_PROBE_HANDLER_MAX_ATTEMPTS (3), the event is handled once, nothing is
    dead-lettered, and the next event of the case waits for it (its effect comes after)."""
    bootstrap = infra_env["KIPINA_KAFKA_BOOTSTRAP"]
    case_id = str(uuid.uuid4())
    flaky = submitted(case_id, "flaky dependency")
    await produce_event(bootstrap, flaky, topic=PROBE_TOPIC)
    await produce_event(bootstrap, submitted(case_id, "healthy"), topic=PROBE_TOPIC)

    async def both_done() -> list[dict[str, object]] | None:
        effects = await probe.effects(case_id)
        return effects if len(effects) == 2 else None

    effects = await eventually(both_done, what="the flaky event and the next handled")
    assert [e["title"] for e in effects] == ["flaky dependency", "healthy"]
    assert probe_service.TRIES[flaky.id] == probe_service.FLAKY_FAILURES + 1  # failed twice, then handled
    assert await probe.pool.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", flaky.id) == 1
    dead = await probe.pool.fetchval("SELECT count(*) FROM dead_letters WHERE message_key = $1", case_id.encode())
    assert dead == 0


async def test_failing_handler_is_retried_then_dead_lettered_and_can_be_replayed(
    probe, infra_env, reliability: Reliability
) -> None:
    row = reliability.row(
        "Faults", "a handler failing permanently: dead-lettered, the partition moves on, replayed after the fix"
    )
    row.cases_driven = 1
    bootstrap = infra_env["KIPINA_KAFKA_BOOTSTRAP"]
    case_id = str(uuid.uuid4())
    async with watch(bootstrap, PROBE_DLQ, topics.OPERATIONS) as dlq:
        await produce_event(bootstrap, submitted(case_id, "poison pill"), topic=PROBE_TOPIC)
        await produce_event(bootstrap, submitted(case_id, "healthy"), topic=PROBE_TOPIC)
        effects = await eventually(lambda: probe.effects(case_id), what="the partition moved on")
        records = await eventually(
            lambda: _async(dlq.matching(lambda r: r.key == case_id.encode())), what="poison dead-lettered"
        )
        dead = await probe.pool.fetchrow("SELECT id FROM dead_letters WHERE message_key = $1", case_id.encode())
        announced = await _announcement_of(dlq, dead["id"])
    assert [e["title"] for e in effects] == ["healthy"]
    headers = dict(records[0].headers)
    assert headers["dlq-reason"] == b"handler_error"
    assert headers["dlq-attempts"] == b"3"  # KIPINA_PROBE_HANDLER_MAX_ATTEMPTS
    assert b"cannot digest" in headers["dlq-error"]

    assert announced.reason == "handler_error" and announced.attempts == 3 and "cannot digest" in announced.error
    assert announced.event_type_seen == CaseSubmittedV1.event_type and announced.service == "probe"
    operator = auth("operator")
    listed = await probe.client.get("/ops/dead-letters", headers=operator)
    assert dead["id"] in [item["id"] for item in listed.json()["items"]]

    still_failing = await probe.client.post(f"/ops/dead-letters/{dead['id']}/replay", headers=operator)
    assert still_failing.status_code == 409
    assert "cannot digest" in still_failing.json()["message"]

    await probe.pool.execute("INSERT INTO probe_antidote VALUES (1)")
    replayed = await probe.client.post(f"/ops/dead-letters/{dead['id']}/replay", headers=operator)
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["outcome"] == "handled"
    titles = sorted(e["title"] for e in await probe.effects(case_id))
    row.faults_injected = 1
    row.cases_lost = 0 if titles == ["healthy", "poison pill"] else 1
    row.duplicates_seen = max(0, len(titles) - 2)
    assert titles == ["healthy", "poison pill"]
    assert (await probe.client.post(f"/ops/dead-letters/{dead['id']}/replay", headers=operator)).json()[
        "outcome"
    ] == "duplicate"


async def test_operations_endpoints_need_an_operator(probe) -> None:
    assert (await probe.client.get("/ops/dead-letters")).status_code == 401
    assert (await probe.client.get("/ops/dead-letters", headers=auth("submitter"))).status_code == 403
    status = await probe.client.get("/ops/status", headers=auth("operator"))
    assert status.status_code == 200 and "outbox" in status.json()


async def test_operations_refuse_out_of_range_input_with_422(probe) -> None:
    operator = auth("operator")
    # Beyond PostgreSQL's bigint the id names no dead letter; it must not reach the query (a 500).
    replay = await probe.client.post(f"/ops/dead-letters/{2**64}/replay", headers=operator)
    assert replay.status_code == 422 and replay.json()["problems"][0]["field"] == "path.dead_letter_id", replay.text
    assert (await probe.client.post("/ops/dead-letters/0/replay", headers=operator)).status_code == 422
    assert (await probe.client.post(f"/ops/dead-letters/{2**63 - 1}/replay", headers=operator)).status_code == 404
    for params in ({"limit": -1}, {"offset": -1}, {"limit": 0}, {"offset": 2**64}):
        listed = await probe.client.get("/ops/dead-letters", params=params, headers=operator)
        assert listed.status_code == 422, (params, listed.text)
    page = (await probe.client.get("/ops/dead-letters", params={"limit": 1}, headers=operator)).json()
    assert page["limit"] == 1 and page["offset"] == 0 and page["total"] >= len(page["items"])


async def _async(value):  # eventually() takes an async probe
    return value


async def test_metrics_count_requests_by_route_and_events_by_outcome(probe, infra_env) -> None:
    case_id = str(uuid.uuid4())
    await probe.client.get(f"/no/such/page/{case_id}", headers=auth("operator"))
    await probe.client.get("/ops/status", headers=auth("operator"))
    await produce_event(infra_env["KIPINA_KAFKA_BOOTSTRAP"], submitted(case_id, "counted"), topic=PROBE_TOPIC)
    await eventually(lambda: probe.effects(case_id), what="event handled")

    text = (await probe.client.get("/metrics")).text
    assert 'kipina_http_requests_total{method="GET",route="/ops/status",status="200"}' in text
    assert 'kipina_http_requests_total{method="GET",route="unmatched",status="404"}' in text
    handled = [
        line
        for line in text.splitlines()
        if line.startswith("kipina_events_consumed_total{")
        and 'consumer="probe"' in line
        and 'outcome="handled"' in line
    ]
    assert handled and float(handled[0].rsplit(" ", 1)[1]) >= 1
    assert "kipina_outbox_backlog" in text


async def test_oversized_bodies_get_413_with_or_without_content_length(probe) -> None:
    limit = probe.app.state.settings.max_request_bytes
    small = await probe.client.post("/probe/notes", headers=auth("operator"), json={"text": "fits"})
    assert small.status_code == 200 and small.json() == {"length": 4}
    declared = await probe.client.post("/probe/notes", headers=auth("operator"), content=b"x" * (limit + 1))
    assert declared.status_code == 413 and declared.json()["error"] == "request_too_large"

    async def chunks():  # no Content-Length: chunked transfer
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    chunked = await probe.client.post("/probe/notes", headers=auth("operator"), content=chunks())
    assert chunked.status_code == 413, chunked.text
    assert "over the limit" in chunked.json()["message"]


async def test_housekeeping_purges_only_old_finished_rows(probe) -> None:
    from shared import housekeeping

    pool = probe.pool
    old, fresh = uuid.uuid4(), uuid.uuid4()
    pending_old = uuid.uuid4()
    for event_id, published, age_h in ((old, True, 200), (fresh, True, 1), (pending_old, False, 500)):
        await pool.execute(
            """
            INSERT INTO outbox (event_id, event_type, topic, message_key, payload, created_at, published_at)
            VALUES ($1, 't', 'x', 'k', 'p', now() - make_interval(hours => $2),
                    CASE WHEN $3 THEN now() - make_interval(hours => $2) END)
            """,
            event_id,
            age_h,
            published,
        )
    await pool.execute(
        "INSERT INTO inbox (consumer, event_id, event_type, processed_at)"
        " VALUES ('probe', $1, 't', now() - interval '31 days')",
        old,
    )
    purged = await housekeeping.purge(
        pool, outbox_retention_hours=168, inbox_retention_hours=720, dead_letter_retention_hours=720
    )
    assert purged.outbox >= 1 and purged.inbox >= 1
    left = {
        r["event_id"]
        for r in await pool.fetch(
            "SELECT event_id FROM outbox WHERE event_id = ANY($1::uuid[])", [old, fresh, pending_old]
        )
    }
    assert left == {fresh, pending_old}, "only published rows past the retention go; pending ones never"
    assert await pool.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", old) == 0


async def test_consumer_lag_counts_messages_not_yet_consumed(infra_env) -> None:
    from shared import lag
    from shared.kafka import ensure_topics
    from tests.support.infra import unique_group

    bootstrap = infra_env["KIPINA_KAFKA_BOOTSTRAP"]
    await ensure_topics(bootstrap, names=[PROBE_TOPIC, PROBE_DLQ])
    group = unique_group("lag", topics=[PROBE_TOPIC])  # committed at the end: nothing behind
    assert await lag.measure(bootstrap, group=group, topics=[PROBE_TOPIC]) == {PROBE_TOPIC: 0}
    for n in range(3):
        await produce_event(bootstrap, submitted(str(uuid.uuid4()), f"waiting {n}"), topic=PROBE_TOPIC)
    assert await lag.measure(bootstrap, group=group, topics=[PROBE_TOPIC]) == {PROBE_TOPIC: 3}


async def test_ops_status_reports_consumer_lag(probe) -> None:
    async def measured() -> dict[str, int] | None:
        status = (await probe.client.get("/ops/status", headers=auth("operator"))).json()
        return status["consumer_lag"] or None

    assert await eventually(measured, timeout=10, what="a lag figure") == {PROBE_TOPIC: 0}
    # And per partition: every partition of the topic, none behind.
    status = (await probe.client.get("/ops/status", headers=auth("operator"))).json()
    partitions = status["consumer_lag_partitions"]
    assert [(p["topic"], p["partition"], p["lag"]) for p in partitions] == [(PROBE_TOPIC, n, 0) for n in range(6)]
    assert all(p["committed"] == p["end"] for p in partitions)
