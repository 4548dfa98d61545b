"""The operator dashboard without its database: a page saying so, never a 500 (in-process, no lifespan).

Everything else about the dashboard runs against real Kafka and PostgreSQL in tests/browser/test_ops_dashboard.py.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.demo import demo_token
from shared.settings import ServiceSettings
from shared.web import session


class _DownPool:
    """A pool whose database does not answer."""

    async def fetchval(self, *args: Any) -> Any:
        raise ConnectionRefusedError("connection refused")

    fetchrow = fetch = execute = fetchval

    def transaction(self) -> Any:
        # A unit of work (the domain section's use case) fails as it begins.
        raise ConnectionRefusedError("connection refused")


class _DownBroker:
    async def ping(self, timeout: float) -> bool:
        return False


async def test_the_dashboard_says_the_database_is_down_instead_of_failing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIPINA_DEV_SIGN_IN", "true")
    from services.intake.app import create

    app = create()
    app.state.runtime.pool = _DownPool()
    app.state.broker = _DownBroker()
    settings: ServiceSettings = app.state.settings
    cookies = {session.SESSION_COOKIE: demo_token("operator", settings=settings, ttl=session.SESSION_TTL)}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://unit", cookies=cookies
    ) as client:
        page = await client.get("/ops?lang=en")
        live = await client.get("/ops/live?lang=en")
    assert page.status_code == 200, page.text
    assert "Operator dashboard" in page.text
    for html in (page.text, live.text):
        assert 'data-testid="health-database"><span class="error">✘ Does not answer</span>' in html
        assert 'data-testid="health-kafka"><span class="error">✘ Does not answer</span>' in html
        assert 'data-testid="events-handled">–</dd>' in html
