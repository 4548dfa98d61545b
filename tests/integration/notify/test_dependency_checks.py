"""Notify's own dependency checks for the operator dashboard (SMTP, webhooks) against a real SMTP server and the real
database; neither takes part in /health/ready."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest

from services.notify import workflow
from services.notify.domain import WebhookActivity
from services.notify.repository import NotifyRepository
from services.notify.settings import NotifySettings
from services.notify.worker import smtp_health
from shared.demo import demo_token
from shared.uow import Origin, UnitOfWork
from shared.web import session
from tests.integration.notify.conftest import notify_service
from tests.support.infra import migrated_pool
from tests.support.mail import SmtpSink, free_port

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).parents[3] / "services" / "notify" / "migrations"


async def test_the_smtp_check_greets_a_running_server(smtp_sink: SmtpSink) -> None:
    health = await smtp_health(NotifySettings(smtp_host="127.0.0.1", smtp_port=smtp_sink.port))
    assert health.ok and health.error is None
    assert health.detail == "smtp_detail"
    assert health.values["server"] == f"127.0.0.1:{smtp_sink.port}"
    assert isinstance(health.values["ms"], int)
    assert smtp_sink.messages == []  # greeted, never sent anything


async def test_the_smtp_check_is_not_ok_when_nothing_listens() -> None:
    closed = free_port()
    health = await smtp_health(NotifySettings(smtp_host="127.0.0.1", smtp_port=closed))
    assert not health.ok
    assert health.error is not None and "SMTPConnectError" in health.error and str(closed) in health.error


@pytest.fixture
async def notify_pool(infra_env: dict[str, str]) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(infra_env["KIPINA_NOTIFY_DATABASE_URL"], MIGRATIONS) as pool:
        yield pool


async def _subscription(pool: asyncpg.Pool) -> uuid.UUID:
    webhook_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO webhook_subscriptions (id, url, sealed_secret, created_by) "
        "VALUES ($1, 'http://127.0.0.1:9/', 's', 'op')",
        webhook_id,
    )
    return webhook_id


async def _delivery(
    pool: asyncpg.Pool,
    webhook_id: uuid.UUID | None,
    *,
    status: str,
    attempts: int,
    minutes_ago: float,
    error: str | None = None,
    created_hours_ago: float = 1.0,
    channel: str = "webhook",
) -> None:
    """A delivery whose latest attempt (``updated_at``) was ``minutes_ago``; delivered then, when delivered."""
    await pool.execute(
        """
        INSERT INTO deliveries (id, case_id, source_event_id, source_event_type, correlation_id, channel, recipient,
                                webhook_id, language, template, subject, body, status, attempts, last_error,
                                created_at, updated_at, delivered_at)
        VALUES ($1, NULL, $2, 'kipina.case.submitted.v1', 'c', $3, $4, $5, 'en', 'case_submitted', 's', 'b', $6, $7,
                $8, now() - make_interval(secs => $9), now() - make_interval(secs => $10),
                CASE WHEN $6 = 'delivered' THEN now() - make_interval(secs => $10) END)
        """,
        uuid.uuid4(),
        uuid.uuid4(),
        channel,
        str(webhook_id) if webhook_id else "ops@example.org",
        webhook_id,
        status,
        attempts,
        error,
        created_hours_ago * 3600,
        minutes_ago * 60,
    )


def _uow(pool: asyncpg.Pool) -> UnitOfWork[NotifyRepository]:
    return UnitOfWork(pool, repository=NotifyRepository, origin=Origin(service="notify", correlation_id="test"))


async def test_the_webhook_check_reads_recent_deliveries_and_fails_while_a_latest_attempt_failed(
    notify_pool: asyncpg.Pool,
) -> None:
    pool = notify_pool
    healthy, broken, slow = [await _subscription(pool) for _ in range(3)]
    await _delivery(pool, healthy, status="delivered", attempts=1, minutes_ago=2)
    await _delivery(pool, healthy, status="delivered", attempts=1, minutes_ago=180)  # an older success
    await _delivery(pool, healthy, status="pending", attempts=0, minutes_ago=0)  # not attempted yet
    await _delivery(pool, broken, status="pending", attempts=2, minutes_ago=1, error="webhook answered HTTP 500")
    await _delivery(pool, broken, status="failed", attempts=5, minutes_ago=5, error="webhook answered HTTP 500")
    await _delivery(pool, slow, status="sending", attempts=1, minutes_ago=1)  # in flight: not a failure
    await _delivery(pool, slow, status="pending", attempts=1, minutes_ago=40, error="timeout")  # before the window
    await _delivery(pool, slow, status="pending", attempts=3, minutes_ago=1, error="x", created_hours_ago=30)
    await _delivery(pool, None, status="failed", attempts=5, minutes_ago=1, error="550", channel="email")

    async with pool.acquire() as conn:
        activity = await NotifyRepository(conn).webhook_activity(window_s=15 * 60, lookback_s=24 * 3600)
        last_success = await conn.fetchval(
            "SELECT max(delivered_at) FROM deliveries WHERE updated_at > now() - interval '1 hour'"
        )
    assert isinstance(last_success, datetime)
    # Attempted in the last 15 minutes: the recent success, the two of the broken subscription, the one in flight
    # (not the one created 30 hours ago, beyond the look-back, nor the email).
    assert activity == WebhookActivity(deliveries=4, failed=2, failing_subscriptions=1, last_success=last_success)

    health = await workflow.webhook_health(uow=_uow(pool), window_minutes=15)
    assert not health.ok and health.error is None
    assert health.detail == "webhooks_detail"
    assert {k: health.values[k] for k in ("minutes", "deliveries", "failed", "failing")} == {
        "minutes": "15",
        "deliveries": 4,
        "failed": 2,
        "failing": 1,
    }
    assert health.values["last"] == last_success.strftime("%Y-%m-%d %H:%M UTC")

    # The subscriber answers again: its deliveries go through, and the check is ok.
    await pool.execute(
        "UPDATE deliveries SET status = 'delivered', last_error = NULL, delivered_at = now() WHERE webhook_id = $1",
        broken,
    )
    assert (await workflow.webhook_health(uow=_uow(pool), window_minutes=15)).ok


async def test_with_smtp_away_notify_stays_ready_and_its_dashboard_says_smtp_does_not_answer(
    infra_env: dict[str, str],
) -> None:
    closed = str(free_port())
    async with notify_service(infra_env, KIPINA_NOTIFY_SMTP_PORT=closed, KIPINA_DEV_SIGN_IN="true") as client:
        ready = await client.get("/health/ready")
        assert ready.status_code == 200, ready.text
        assert set(ready.json()["checks"]) == {"database", "kafka"}

        token = demo_token("operator", settings=NotifySettings(), ttl=session.SESSION_TTL)
        client.cookies.set(session.SESSION_COOKIE, token)
        live = await client.get("/ops/live?lang=en")
    assert live.status_code == 200
    html = live.text
    assert 'data-testid="health-smtp"><span class="error">✘ Does not answer</span>' in html
    assert f"port {closed}" in html
    assert 'data-testid="health-webhooks">✔ Answers' in html
    assert "Last 15 minutes: 0 deliveries, 0 failed; subscriptions failing 0; last success –." in html
