"""The delivery worker: sends pending deliveries (email over SMTP, signed webhooks) with retries.

Each round claims due rows in a short transaction (``FOR UPDATE SKIP LOCKED``) and marks
them ``sending`` with a lease, so no database transaction stays open while a slow SMTP
server or webhook endpoint answers. A second short transaction records the result and
emits NotificationDeliveredV1 / NotificationFailedV1 through the outbox.

Delivery is at-least-once: if the process dies after the SMTP server accepted a message
but before the result was recorded, the lease expires and the message is sent again.
Each email carries a stable ``Message-ID`` (the delivery id) so mail systems can spot it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import uuid
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any, cast

import aiosmtplib
import asyncpg
import httpx
from prometheus_client import Counter

from services.notify import domain, repository
from services.notify.settings import NotifySettings
from shared import outbox
from shared.db import Connection
from shared.events import CONTENT_TYPE, EventPayload, NotificationDeliveredV1, NotificationFailedV1
from shared.logging import bind_event_context, get_logger
from shared.service import Runtime
from shared.vocabulary import Channel

log = get_logger(__name__)

SERVICE = "notify"
SIGNATURE_HEADER = "X-Kipina-Signature"

DELIVERY_ATTEMPTS = Counter(
    "kipina_notify_delivery_attempts_total", "Delivery attempts by channel and result", ["channel", "result"]
)


class DeliveryError(Exception):
    """A delivery attempt failed; ``permanent`` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def sign(body: bytes, secret: str) -> str:
    """The webhook signature header value: ``sha256=<hex HMAC-SHA256 of the body>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def build_email(row: asyncpg.Record, *, mail_from: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = formataddr((row["recipient_name"], row["recipient"]))
    message["Subject"] = row["subject"]
    # Stable per delivery: a resend after a crash carries the same id.
    message["Message-ID"] = f"<{row['id']}@kipina.local>"
    message["Content-Language"] = row["language"]
    message["X-Kipina-Delivery-Id"] = str(row["id"])
    message["X-Kipina-Case-Id"] = str(row["case_id"])
    message["X-Kipina-Template"] = row["template"]
    message.set_content(row["body"])
    return message


class DeliveryWorker:
    def __init__(self, *, pool: asyncpg.Pool, settings: NotifySettings, http: httpx.AsyncClient) -> None:
        self._pool = pool
        self._settings = settings
        self._http = http

    async def run(self) -> None:
        while True:
            try:
                handled = await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: keep trying, rows stay pending
                log.warning("delivery round failed; will retry", error=repr(exc))
                handled = 0
            if handled < self._settings.delivery_batch_size:
                await asyncio.sleep(self._settings.delivery_poll_s)

    async def deliver_due(self) -> int:
        """Claim, send and finalise one batch of due deliveries; returns how many were attempted."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await repository.claim_due_deliveries(
                conn, limit=self._settings.delivery_batch_size, lease_s=self._settings.delivery_lease_s
            )
        if rows:
            await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    async def _deliver(self, row: asyncpg.Record) -> None:
        with bind_event_context(
            case_id=str(row["case_id"]), correlation_id=row["correlation_id"], delivery_id=str(row["id"])
        ):
            error: str | None = None
            permanent = False
            try:
                if row["channel"] == Channel.EMAIL:
                    await self._send_email(row)
                else:
                    await self._post_webhook(row)
            except DeliveryError as exc:
                error, permanent = str(exc), exc.permanent
            except Exception as exc:  # SMTP, network, timeouts: all retried
                error = f"{type(exc).__name__}: {exc}"
            DELIVERY_ATTEMPTS.labels(row["channel"], "ok" if error is None else "error").inc()
            try:
                await self._finalise(row, error=error, permanent=permanent)
            except Exception as exc:  # the lease expires and the row is retried (at-least-once)
                log.error("could not record delivery result", error=repr(exc))

    async def _send_email(self, row: asyncpg.Record) -> None:
        s = self._settings
        await aiosmtplib.send(
            build_email(row, mail_from=s.mail_from),
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username or None,
            password=s.smtp_password.get_secret_value() or None,
            start_tls=s.smtp_starttls,
            timeout=s.smtp_timeout_s,
        )

    async def _post_webhook(self, row: asyncpg.Record) -> None:
        if not row["webhook_active"]:
            raise DeliveryError("webhook subscription was deleted", permanent=True)
        body = row["body"].encode()
        response = await self._http.post(
            row["webhook_url"],
            content=body,
            headers={
                "Content-Type": CONTENT_TYPE,
                SIGNATURE_HEADER: sign(body, row["webhook_secret"]),
                "X-Kipina-Delivery-Id": str(row["id"]),
            },
            timeout=self._settings.webhook_timeout_s,
        )
        if not domain.webhook_succeeded(response.status_code):
            raise DeliveryError(f"webhook answered HTTP {response.status_code}")

    async def _finalise(self, row: asyncpg.Record, *, error: str | None, permanent: bool) -> None:
        attempts: int = row["attempts"]
        delivery_id: uuid.UUID = row["id"]
        async with self._pool.acquire() as conn, conn.transaction():
            if error is None:
                if await repository.mark_delivered(conn, delivery_id=delivery_id, attempt=attempts):
                    await _emit_outcome(conn, row, NotificationDeliveredV1(**_delivery_facts(row)))
                    log.info("delivered", channel=row["channel"], attempts=attempts)
                return
            status = (
                domain.DeliveryStatus.FAILED
                if permanent
                else domain.after_failure(attempts=attempts, max_attempts=self._settings.max_attempts)
            )
            delay = domain.retry_delay_s(
                attempts=attempts, base_s=self._settings.backoff_base_s, max_s=self._settings.backoff_max_s
            )
            updated = await repository.mark_attempt_failed(
                conn, delivery_id=delivery_id, attempt=attempts, status=status, retry_in_s=delay, error=error
            )
            if not updated:
                return
            if status == domain.DeliveryStatus.FAILED:
                await _emit_outcome(conn, row, NotificationFailedV1(**_delivery_facts(row), error=error[:2000]))
                log.error("delivery failed for good", channel=row["channel"], attempts=attempts, error=error)
            else:
                log.warning("delivery attempt failed; will retry", attempts=attempts, retry_in_s=delay, error=error)


def _delivery_facts(row: asyncpg.Record) -> dict[str, Any]:
    """What both outcome events say about a delivery."""
    return {
        "delivery_id": row["id"],
        "case_id": row["case_id"],
        "source_event_id": row["source_event_id"],
        "source_event_type": row["source_event_type"],
        "channel": Channel(row["channel"]),
        "recipient": row["recipient"],
        "template": row["template"],
        "attempts": row["attempts"],
    }


async def _emit_outcome(conn: Connection, row: asyncpg.Record, payload: EventPayload) -> None:
    """The delivery's outcome event, caused by the event that asked for the delivery."""
    await outbox.emit(
        conn,
        payload,
        service=SERVICE,
        subject=str(row["case_id"]),
        correlation_id=row["correlation_id"],
        causation_id=str(row["source_event_id"]),
    )


async def delivery_worker(runtime: Runtime) -> None:
    """Background job: runs until the service stops."""
    settings = cast(NotifySettings, runtime.settings)
    async with httpx.AsyncClient(follow_redirects=False) as http:
        worker = DeliveryWorker(pool=runtime.db(), settings=settings, http=http)
        await worker.run()
