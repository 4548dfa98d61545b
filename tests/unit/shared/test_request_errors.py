"""What a client is told about a body that is not JSON and about a token that is not accepted.

Malformed JSON is a 400 naming the byte where parsing stopped (not a validation problem in a field called
"16"); a bad token is a 401 that says "invalid token" and nothing of the decoder's reasons.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel, Json

from shared import auth
from shared.auth import CurrentUser, mint_token
from shared.registry import Part
from shared.service import ServiceDefinition, create_app
from shared.settings import ServiceSettings

router = APIRouter()


class Idea(BaseModel):
    title: str
    # JSON inside a string field: a problem with it is an ordinary field problem, not a malformed body.
    extra: Json[dict[str, int]] | None = None


@router.post("/ideas")
async def post_idea(idea: Idea) -> dict[str, str]:
    return {"title": idea.title}


@router.get("/me")
async def me(user: CurrentUser) -> dict[str, str]:
    return {"user": user.user_id}


SETTINGS = ServiceSettings()
SECRET = SETTINGS.jwt_secret.get_secret_value()


def client() -> httpx.AsyncClient:
    app = create_app(
        ServiceDefinition(
            part=Part("unit", 8097, "Unit"),
            description="",
            settings=SETTINGS,
            migrations=Path("."),
            api_routers=[router],
        )
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://unit")


async def post_raw(body: bytes) -> httpx.Response:
    async with client() as http:
        return await http.post("/ideas", content=body, headers={"content-type": "application/json"})


# --------------------------------------------------------------------------- malformed JSON


async def test_a_body_that_is_not_json_is_a_400_naming_the_byte() -> None:
    response = await post_raw(b"{not json")
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_json",
        "message": "the body is not valid JSON (at byte 1): expecting property name enclosed in double quotes",
        "byte": 1,
    }


async def test_the_position_counts_bytes_not_characters() -> None:
    # "Ääkköset" is 8 characters and 11 bytes in UTF-8: the parser stops at character 22, byte 25.
    body = '{"title": "Ääkköset", oops}'.encode()
    response = await post_raw(body)
    assert response.status_code == 400
    assert response.json()["byte"] == 25
    assert response.json()["message"].startswith("the body is not valid JSON (at byte 25)")
    assert body[25:].startswith(b"oops")


@pytest.mark.parametrize(("body", "offset"), [(b'{"title": "x"', 13), (b'{"title": "x"} trailing', 15), (b"[1,]", 3)])
async def test_truncated_and_trailing_bodies(body: bytes, offset: int) -> None:
    response = await post_raw(body)
    assert response.status_code == 400
    assert response.json()["byte"] == offset
    assert f"(at byte {offset})" in response.json()["message"]


async def test_valid_json_of_the_wrong_shape_is_still_a_422_per_field() -> None:
    response = await post_raw(json.dumps({"title": 5, "extra": "{oops"}).encode())
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_failed"
    assert {p["field"] for p in body["problems"]} == {"title", "extra"}
    assert "invalid_json" not in response.text


# --------------------------------------------------------------------------- bad tokens


class RecordingLog:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def debug(self, event: str, **kw: Any) -> None:
        self.lines.append(("debug", event, kw))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


GOOD = {"secret": SECRET, "user_id": "alice", "roles": ["submitter"], "organisation_id": "org-a"}


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("nonsense", "Not enough segments"),
        (mint_token(**{**GOOD, "secret": "another-secret-of-enough-length-000"}), "Signature verification failed"),
        (mint_token(**GOOD, ttl=timedelta(seconds=-1)), "Signature has expired"),
        (mint_token(**GOOD, issuer="someone-else"), "Invalid issuer"),
    ],
)
async def test_a_bad_token_is_a_401_without_the_decoders_reason(
    monkeypatch: pytest.MonkeyPatch, token: str, reason: str
) -> None:
    log = RecordingLog()
    monkeypatch.setattr(auth, "log", log)
    async with client() as http:
        response = await http.get("/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized", "message": "invalid token"}
    assert response.headers["WWW-Authenticate"] == "Bearer"
    # The reason is for operators, at debug level, and the token itself is never logged.
    [(level, _event, fields)] = log.lines
    assert level == "debug" and reason in fields["reason"]
    assert token not in repr(log.lines)


async def test_a_good_token_and_a_missing_one() -> None:
    async with client() as http:
        ok = await http.get("/me", headers=bearer(mint_token(**GOOD)))
        missing = await http.get("/me")
    assert ok.status_code == 200 and ok.json() == {"user": "alice"}
    assert missing.status_code == 401
    assert missing.json() == {"error": "unauthorized", "message": "missing bearer token"}
