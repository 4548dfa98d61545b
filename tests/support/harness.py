"""Run a service in-process against the real broker and database, and talk to it over ASGI."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI

from shared.auth import mint_token
from shared.settings import DEV_JWT_SECRET

T = TypeVar("T")


def token(role: str | list[str], *, user: str = "user-1", org: str = "org-1", lang: str = "en", **extra: Any) -> str:
    roles = [role] if isinstance(role, str) else role
    return mint_token(
        secret=os.environ.get("KIPINA_JWT_SECRET", DEV_JWT_SECRET),
        user_id=user,
        roles=roles,
        organisation_id=org,
        language=lang,
        name=extra.get("name", user),
        email=extra.get("email", f"{user}@example.org"),
    )


def auth(role: str | list[str], **kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, **kwargs)}"}


@asynccontextmanager
async def running_app(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Start the app's lifespan (migrations, pool, relay, Kafka consumer) and yield an HTTP client."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float = 30.0, interval: float = 0.2, what: str = "condition"
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
