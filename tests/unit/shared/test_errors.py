"""Refusals raised anywhere under a route become one kind of HTTP error body (shared/http_errors.py)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx
from fastapi import APIRouter

from shared.errors import Conflict, Invalid, NotFound, Problem
from shared.http_errors import ErrorBody
from shared.registry import Part
from shared.service import ServiceDefinition, create_app
from shared.settings import ServiceSettings

router = APIRouter()


@router.get("/missing")
async def missing() -> None:
    raise NotFound("no case 42")


@router.get("/clash")
async def clash() -> None:
    raise Conflict("the case is decided", error="case_decided", case_id="42")


@router.get("/wrong")
async def wrong() -> None:
    raise Invalid.of([Problem(f"scores.{i}", f"problem {i}") for i in range(7)])


@router.get("/database-away")
async def database_away() -> None:
    raise asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command")


@router.get("/connection-cut")
async def connection_cut() -> None:
    raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")


@router.get("/statement-refused")
async def statement_refused() -> None:
    raise asyncpg.exceptions.UniqueViolationError("duplicate key value violates unique constraint")


@router.get("/count")
async def count(n: int) -> int:
    return n


def app_with_routes(*, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
    app = create_app(
        ServiceDefinition(
            part=Part("unit", 8098, "Unit"),
            description="",
            settings=ServiceSettings(),
            migrations=Path("."),
            api_routers=[router],
        )
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(transport=transport, base_url="http://unit")


async def test_refusals_map_to_statuses_and_bodies() -> None:
    async with app_with_routes() as client:
        missing = await client.get("/missing")
        clash = await client.get("/clash")
        wrong = await client.get("/wrong")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "message": "no case 42"}
    assert clash.status_code == 409
    assert clash.json() == {"error": "case_decided", "message": "the case is decided", "case_id": "42"}
    assert wrong.status_code == 422
    body = wrong.json()
    assert body["error"] == "validation_failed"
    assert body["message"] == "; ".join(f"scores.{i}: problem {i}" for i in range(5))
    assert len(body["problems"]) == 7 and body["problems"][6] == {"field": "scores.6", "problem": "problem 6"}


def test_refusal_carries_its_parts() -> None:
    refusal = Conflict("taken", error="duplicate_case", existing_case_id="7")
    assert str(refusal) == "taken"
    assert refusal.body() == {"error": "duplicate_case", "message": "taken", "existing_case_id": "7"}
    assert NotFound("x").error == "not_found" and NotFound("x").problems == []


async def test_every_error_answer_is_an_error_body() -> None:
    """What the handlers answer is what the OpenAPI promises for every refusal (shared/openapi.py lists ErrorBody)."""
    async with app_with_routes() as client:
        answers = [
            await client.get("/missing"),
            await client.get("/clash"),
            await client.get("/wrong"),
            await client.get("/ops/status"),  # 401
            await client.get("/count", params={"n": "many"}),  # request validation
            await client.post("/missing"),  # 405
        ]
    assert [a.status_code for a in answers] == [404, 409, 422, 401, 422, 405]
    assert ErrorBody.model_validate(answers[4].json()).problems[0].field == "query.n"
    for answer in answers:
        body = ErrorBody.model_validate(answer.json())
        assert body.error and body.message
    assert ErrorBody.model_validate(answers[1].json()).model_extra == {"case_id": "42"}


async def test_database_away_is_503_with_retry_after_and_a_refused_statement_stays_500() -> None:
    """The database restarting or the connection cut: nothing was done, send it again shortly (not a 500)."""
    async with app_with_routes(raise_app_exceptions=False) as client:  # the 500 is answered, then raised again
        away = [await client.get("/database-away"), await client.get("/connection-cut")]
        refused = await client.get("/statement-refused")
    for answer in away:
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "1"
        assert ErrorBody.model_validate(answer.json()).error == "unavailable"
    assert refused.status_code == 500
    assert refused.json()["error"] == "internal_error"
