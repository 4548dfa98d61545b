"""What every request gets from shared/http.py without a database: its correlation id (the caller's, or a new
one) in ``request.state`` and on the answer, even on a refusal of the body limit; and, while no span is
recorded, trace ids of its own, continuing the caller's ``traceparent`` when it sends one."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from fastapi import APIRouter, Request

from shared import tracing
from shared.registry import Part
from shared.service import ServiceDefinition, create_app
from shared.settings import ServiceSettings

router = APIRouter()


@router.post("/echo")
async def echo(request: Request) -> dict[str, str | None]:
    traceparent, _ = tracing.current_trace_context()
    return {
        "correlation_id": request.state.correlation_id,
        "traceparent": traceparent,
        "trace_id": tracing.log_ids().get("trace_id"),
    }


def client() -> httpx.AsyncClient:
    app = create_app(
        ServiceDefinition(
            part=Part("unit", 8096, "Unit"),
            description="",
            settings=ServiceSettings(max_request_bytes=100),
            migrations=Path("."),
            api_routers=[router],
        )
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://unit")


async def test_the_callers_correlation_id_is_the_requests_and_comes_back() -> None:
    async with client() as http:
        r = await http.post("/echo", headers={"X-Correlation-ID": "corr-123"})
    assert r.status_code == 200
    assert r.json()["correlation_id"] == "corr-123"
    assert r.headers.get_list("X-Correlation-ID") == ["corr-123"]


async def test_a_request_without_one_gets_a_new_correlation_id() -> None:
    async with client() as http:
        first, second = await http.post("/echo"), await http.post("/echo")
    ids = [r.headers["X-Correlation-ID"] for r in (first, second)]
    assert [r.json()["correlation_id"] for r in (first, second)] == ids
    assert ids[0] != ids[1]
    assert all(uuid.UUID(i) for i in ids)


async def test_a_refused_body_still_carries_the_correlation_id() -> None:
    async with client() as http:
        r = await http.post("/echo", content=b"x" * 200, headers={"X-Correlation-ID": "too-big"})
    assert r.status_code == 413
    assert r.headers["X-Correlation-ID"] == "too-big"


async def test_each_request_has_trace_ids_of_its_own() -> None:
    assert not tracing.recording()
    async with client() as http:
        first, second = (await http.post("/echo")).json(), (await http.post("/echo")).json()
    for answer in (first, second):
        version, trace_id, span_id, flags = answer["traceparent"].split("-")
        assert (version, flags) == ("00", "00")
        assert trace_id == answer["trace_id"] and int(trace_id, 16) and int(span_id, 16)
    assert first["trace_id"] != second["trace_id"]


async def test_the_callers_traceparent_is_continued() -> None:
    trace_id, parent_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    async with client() as http:
        answer = (await http.post("/echo", headers={"traceparent": f"00-{trace_id}-{parent_span}-01"})).json()
    _, continued, span_id, flags = answer["traceparent"].split("-")
    assert (continued, flags) == (trace_id, "01")
    assert span_id != parent_span
