"""One trace follows a case from ``POST /cases`` through all four services to the email.

The four services run in this process (one tracer provider, an in-memory exporter) against the
real Kafka broker and PostgreSQL. The trace context travels only inside the events
(``traceparent``) and the notify delivery rows, exactly as between separate processes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared import registry, tracing
from tests.support.harness import auth, eventually, four_services
from tests.support.mail import SmtpSink

pytestmark = pytest.mark.integration

OPERATOR = auth("operator", user="op-trace", org="org-ops")
SUBMITTER = auth("submitter", user="sub-trace", org="org-trace", lang="fi", email="trace@example.org")


@dataclass
class Stack:
    clients: dict[str, httpx.AsyncClient]
    mail: SmtpSink
    spans: InMemorySpanExporter


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(infra_env: dict[str, str]) -> AsyncIterator[Stack]:
    exporter = InMemorySpanExporter()
    try:
        async with four_services(
            infra_env,
            group="trace",
            env={"KIPINA_NOTIFY_DELIVERY_POLL_S": "0.1"},
            before_start=lambda _: tracing.record_spans(SimpleSpanProcessor(exporter)),
        ) as services:
            yield Stack(clients=services.clients, mail=services.mail, spans=exporter)
    finally:
        tracing.stop_recording()
        exporter.clear()


def _attr(span: ReadableSpan, key: str) -> Any:
    return (span.attributes or {}).get(key)


def _consumed(spans: list[ReadableSpan], service: str, event_type: str) -> list[ReadableSpan]:
    return [
        s
        for s in spans
        if s.kind is SpanKind.CONSUMER
        and _attr(s, "kipina.service") == service
        and _attr(s, "cloudevents.event_type") == event_type
    ]


def _database_of(span: ReadableSpan) -> str | None:
    return _attr(span, "db.name") or _attr(span, "db.namespace")


async def test_one_trace_from_submission_to_email(stack: Stack) -> None:
    intake = stack.clients["intake"]
    now = datetime.now(UTC)
    call = await intake.post(
        "/calls",
        headers=OPERATOR,
        json={
            "title": "Traced call",
            "opens_at": (now - timedelta(hours=1)).isoformat(),
            "closes_at": (now + timedelta(days=1)).isoformat(),
            "categories": ["public_sector"],
            "languages": ["fi"],
        },
    )
    assert call.status_code == 201, call.text

    # The call is another request, another trace, which goes on while review, awards and notify learn the call
    # from its announcement: wait for that before starting on the case's trace.
    async def call_learned() -> bool:
        spans = list(stack.spans.get_finished_spans())
        return all(_consumed(spans, service, "kipina.call.announced.v1") for service in ("review", "awards", "notify"))

    await eventually(call_learned, timeout=60, what="the call's announcement consumed")
    stack.spans.clear()

    response = await intake.post(
        "/cases",
        headers=SUBMITTER,
        json={
            "call_id": call.json()["id"],
            "title": "Traced case from submission to email",
            "summary": "A case whose journey is followed through every service.",
            "problem": "Nobody could tell where a case spent its time between services.",
            "solution": "The trace context travels inside every event and every delivery.",
            "organisation": {"name": "Trace City", "business_id": "0112038-9"},
            "category": "public_sector",
            "language": "fi",
            "oecd_principles": [1],
            "iso_stage": "concept",
        },
    )
    assert response.status_code == 201, response.text
    case_id = response.json()["id"]

    submitted, opened = "kipina.case.submitted.v1", "kipina.review.iteration_opened.v1"

    async def journey_done() -> list[ReadableSpan] | None:
        spans = list(stack.spans.get_finished_spans())
        done = (
            stack.mail.for_case(case_id)
            and _consumed(spans, "review", submitted)
            and _consumed(spans, "awards", submitted)
            and _consumed(spans, "notify", submitted)
            and _consumed(spans, "intake", opened)
            and _consumed(spans, "notify", opened)
            and any(s.name == "email send" for s in spans)
            and any(s.name == f"{registry.NOTIFY.topic} publish" for s in spans)
        )
        return spans if done else None

    spans = await eventually(journey_done, timeout=60, what="the case's journey through the four services")

    request = next(s for s in spans if s.kind is SpanKind.SERVER and _attr(s, "http.route") == "/cases")
    trace_id = request.context.trace_id
    strays = sorted(
        {f"{s.name} ({format(s.context.trace_id, '032x')[:8]})" for s in spans if s.context.trace_id != trace_id}
    )
    assert not strays, f"spans outside the case's trace: {strays}"

    # Every kind of work is in it: the request, each service's database, publish, consume, the email.
    databases = {_database_of(s) for s in spans}
    for part in ("intake", "review", "notify"):
        assert f"test_{part}" in databases, f"no database span of {part}: {sorted(d or '' for d in databases)}"
    published = {s.name for s in spans if s.kind is SpanKind.PRODUCER}
    assert {f"{registry.INTAKE.topic} publish", f"{registry.REVIEW.topic} publish"} <= published
    consumers = {_attr(s, "kipina.service") for s in spans if s.kind is SpanKind.CONSUMER}
    assert consumers == set(registry.SERVICE_NAMES), f"consumed by {sorted(consumers)}"
    email = next(s for s in spans if s.name == "email send")
    assert email.kind is SpanKind.CLIENT
    # The trace id is in the email's delivery event too, and causes follow their events.
    assert _consumed(spans, "intake", opened)[0].parent is not None
