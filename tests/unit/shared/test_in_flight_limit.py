"""InFlightLimit: past ``limit`` requests in hand, an immediate 503 with Retry-After; probes always answer."""

from __future__ import annotations

import asyncio

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from shared.http import InFlightLimit


def _app(gate: asyncio.Event, entered: asyncio.Queue[str]) -> Starlette:
    async def slow(request: Request) -> PlainTextResponse:
        await entered.put(request.url.path)
        await gate.wait()
        return PlainTextResponse("done")

    async def live(request: Request) -> PlainTextResponse:
        return PlainTextResponse("alive")

    return Starlette(routes=[Route("/work", slow), Route("/health/live", live)])


async def test_past_the_limit_a_request_is_refused_at_once_and_the_next_one_after_is_taken() -> None:
    gate, entered = asyncio.Event(), asyncio.Queue[str]()
    limited = InFlightLimit(_app(gate, entered), limit=2, retry_after_s=3)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=limited), base_url="http://s") as client:
        first = asyncio.create_task(client.get("/work"))
        second = asyncio.create_task(client.get("/work"))
        await entered.get()
        await entered.get()  # both are in hand

        refused = await client.get("/work")
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "3"
        assert refused.json() == {
            "error": "service_busy",
            "message": "the service has 2 requests in hand; try again in 3 s",
        }
        probe = await client.get("/health/live")  # never refused
        assert probe.status_code == 200 and probe.text == "alive"

        gate.set()
        assert [(await first).status_code, (await second).status_code] == [200, 200]
        assert limited.in_flight == 0
        again = await client.get("/work")
        assert again.status_code == 200


async def test_a_failing_request_gives_its_place_back() -> None:
    async def broken(scope: object, receive: object, send: object) -> None:
        raise RuntimeError("boom")

    limited = InFlightLimit(broken, limit=1)  # type: ignore[arg-type]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=limited, raise_app_exceptions=False), base_url="http://s"
    ) as client:
        for _ in range(3):
            assert (await client.get("/x")).status_code == 500
    assert limited.in_flight == 0


async def test_limit_zero_is_no_limit() -> None:
    gate, entered = asyncio.Event(), asyncio.Queue[str]()
    limited = InFlightLimit(_app(gate, entered), limit=0)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=limited), base_url="http://s") as client:
        pending = [asyncio.create_task(client.get("/work")) for _ in range(5)]
        for _ in range(5):
            await entered.get()
        gate.set()
        assert [(await p).status_code for p in pending] == [200] * 5
