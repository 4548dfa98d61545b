from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from shared import topics
from shared.kafka import ensure_topics
from tests.support.harness import running_app
from tests.support.infra import reset_database, unique_group
from tests.support.probe_service import PROBE_DLQ, PROBE_TOPIC


@pytest.fixture
async def probe(infra_env: dict[str, str], probe_db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """The probe service running in-process on a fresh database and consumer group."""
    await ensure_topics(infra_env["KIPINA_KAFKA_BOOTSTRAP"], names=[PROBE_TOPIC, PROBE_DLQ, topics.OPERATIONS])
    await reset_database(probe_db_url)
    monkeypatch.setenv("KIPINA_PROBE_DATABASE_URL", probe_db_url)
    monkeypatch.setenv("KIPINA_PROBE_CONSUMER_GROUP", unique_group("probe"))
    monkeypatch.setenv("KIPINA_PROBE_HANDLER_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("KIPINA_PROBE_HANDLER_BACKOFF_BASE_S", "0.05")
    monkeypatch.setenv("KIPINA_PROBE_LAG_INTERVAL_S", "0.5")
    from tests.support.probe_service import create

    app = create()
    async with running_app(app) as client:
        yield _Probe(app=app, client=client)


class _Probe:
    def __init__(self, app: Any, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client

    @property
    def pool(self) -> Any:
        return self.app.state.runtime.db()

    async def effects(self, case_id: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch("SELECT * FROM probe_effects WHERE case_id = $1 ORDER BY id", case_id)
        return [dict(r) for r in rows]
