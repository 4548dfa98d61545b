"""Run a service in-process against the real broker and database, and talk to it over ASGI."""

from __future__ import annotations

import asyncio
import importlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI

from shared import registry
from shared.auth import mint_token
from shared.settings import DEV_JWT_SECRET
from tests.support.infra import reset_database, unique_group
from tests.support.mail import SmtpSink, smtp_sink

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


@dataclass
class Services:
    """The four services running in this process (``four_services``)."""

    apps: dict[str, FastAPI]
    clients: dict[str, httpx.AsyncClient]
    mail: SmtpSink


@asynccontextmanager
async def four_services(
    infra_env: Mapping[str, str],
    *,
    group: str,
    env: Mapping[str, str] | None = None,
    before_start: Callable[[dict[str, FastAPI]], None] | None = None,
) -> AsyncIterator[Services]:
    """The four services in this process on the real Kafka and PostgreSQL: each on its tests' database, emptied
    first, with a consumer group of its own (``group``-<service>, pinned to the topics' end), notify sending to a
    real SMTP sink. ``env`` adds settings; ``before_start`` sees the apps before their lifespans start."""
    with smtp_sink() as mail, pytest.MonkeyPatch.context() as mp:
        for part in registry.PARTS:
            await reset_database(infra_env[part.database_env])
            mp.setenv(f"{part.env_prefix}CONSUMER_GROUP", unique_group(f"{group}-{part.name}"))
            mp.setenv(f"{part.env_prefix}RELAY_POLL_INTERVAL_S", "0.2")
        mp.setenv("KIPINA_NOTIFY_SMTP_HOST", "127.0.0.1")
        mp.setenv("KIPINA_NOTIFY_SMTP_PORT", str(mail.port))
        mp.setenv("KIPINA_LOG_LEVEL", "WARNING")
        for name, value in (env or {}).items():
            mp.setenv(name, value)
        apps: dict[str, FastAPI] = {
            p.name: importlib.import_module(f"services.{p.name}.app").create() for p in registry.PARTS
        }
        if before_start is not None:
            before_start(apps)
        async with AsyncExitStack() as running:
            clients = {name: await running.enter_async_context(running_app(app)) for name, app in apps.items()}
            yield Services(apps=apps, clients=clients, mail=mail)


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
