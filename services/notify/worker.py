"""The delivery worker: sends pending deliveries (email over SMTP, signed webhooks) with retries.

Each round claims due deliveries in a short unit of work (``FOR UPDATE SKIP LOCKED``) and marks them
``sending`` with a lease, so no database transaction stays open while a slow SMTP server or webhook
endpoint answers. A second short unit of work records the result and emits NotificationDeliveredV1 /
NotificationFailedV1 (workflow.py). It carries the delivery's correlation id and, as causation, the
event that asked for the delivery; it runs inside the send's span, which continues the trace recorded
with the delivery, so the outcome event joins the case's trace.

Delivery is at-least-once: if the process dies after the SMTP server accepted a message
but before the result was recorded, the lease expires and the message is sent again.
Each email carries a stable ``Message-ID`` (the delivery id) so mail systems can spot it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import socket
import time
from datetime import UTC, datetime
from email import charset
from email.header import Header
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any, cast

import aiosmtplib
import httpx
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter

from services.notify import domain, workflow
from services.notify.domain import Delivery, DueDelivery, RetryPolicy
from services.notify.repository import NotifyRepository
from services.notify.sealing import SecretBox, SecretUnreadable
from services.notify.settings import NotifySettings
from services.notify.targets import TargetRefused, TargetUnresolved, WebhookTargets, pinned
from shared import tracing
from shared.consumer import new_correlation_id
from shared.db import DATABASE_AWAY
from shared.events import CONTENT_TYPE
from shared.glance import Health
from shared.logging import bind_event_context, get_logger
from shared.runtime import Runtime
from shared.service import BackgroundJob
from shared.vocabulary import Channel

log = get_logger(__name__)

SIGNATURE_HEADER = "X-Kipina-Signature"
# The operator dashboard's SMTP check waits at most this long (or the configured SMTP timeout, when shorter).
SMTP_CHECK_TIMEOUT_S = 3.0

DELIVERY_ATTEMPTS = Counter(
    "kipina_notify_delivery_attempts_total", "Delivery attempts by channel and result", ["channel", "result"]
)


class DeliveryError(Exception):
    """A delivery attempt failed; ``permanent`` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def sign(body: bytes, secret: str) -> str:
    """The webhook signature header value: ``sha256=<hex HMAC-SHA256 of the body>`` (its check: docs/people.md)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# UTF-8 with quoted-printable bodies (readable as text) and the shorter of Q and B for headers.
_UTF8 = charset.Charset("utf-8")
_UTF8.header_encoding = charset.SHORTEST
_UTF8.body_encoding = charset.QP


def _header(text: str, name: str) -> Any:
    """Text as is, or RFC 2047 encoded words folded by the generator (a ``Header``: ``compat32`` takes one)."""
    return text if text.isascii() else Header(text, _UTF8, header_name=name)


def _address(name: str, address: str) -> str:
    return formataddr((name, address), charset=_UTF8)


def build_email(delivery: Delivery, *, mail_from: str, now: datetime) -> MIMENonMultipart:
    """The email of one delivery, with the headers RFC 5322 requires (``Date``, ``From``) and ``Message-ID``.

    ``Date`` is when this attempt hands the message to SMTP (``now``, in UTC as ``+0000``: RFC 5322's zone form;
    its ``GMT`` is obsolete syntax). Built with the ``compat32`` classes and the header encoding done here: the
    ``EmailMessage`` of the default policy parsed every header it was given, a quarter of notify's CPU under load.
    """
    message = MIMENonMultipart("text", "plain")
    message.set_payload(delivery.body, _UTF8)  # sets the charset and Content-Transfer-Encoding, encodes the body
    message["Date"] = format_datetime(now.astimezone(UTC))
    message["From"] = _address(*parseaddr(mail_from))
    message["To"] = _address(delivery.recipient_name, delivery.recipient)
    message["Subject"] = _header(delivery.subject, "Subject")
    # Stable per delivery: a resend after a crash carries the same id.
    message["Message-ID"] = f"<{delivery.id}@kipina.local>"
    message["X-Kipina-Delivery-Id"] = str(delivery.id)
    if delivery.case_id is not None:
        message["X-Kipina-Case-Id"] = str(delivery.case_id)
    message["X-Kipina-Template"] = delivery.template
    message["Content-Language"] = delivery.language
    return message


class DeliveryWorker:
    def __init__(
        self,
        *,
        runtime: Runtime,
        settings: NotifySettings,
        http: httpx.AsyncClient,
        targets: WebhookTargets,
        secrets: SecretBox,
    ) -> None:
        self._runtime = runtime
        self._settings = settings
        self._http = http
        self._local_hostname: str | None = None  # the EHLO name, looked up once (aiosmtplib would per message)
        self._targets = targets
        self._secrets = secrets
        self._retry = RetryPolicy(
            max_attempts=settings.delivery_max_attempts,
            backoff_base_s=settings.delivery_backoff_base_s,
            backoff_max_s=settings.delivery_backoff_max_s,
        )

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
        with tracing.quietly():  # polling is not a case's work; each send continues its case's trace
            claimed = await workflow.claim_due_deliveries(
                uow=self._runtime.unit_of_work(NotifyRepository, correlation_id=new_correlation_id()),
                limit=self._settings.delivery_batch_size,
                lease_s=self._settings.delivery_lease_s,
            )
        if claimed:
            await asyncio.gather(*(self._deliver(due) for due in claimed))
        return len(claimed)

    async def _deliver(self, due: DueDelivery) -> None:
        delivery = due.delivery
        with (
            bind_event_context(
                case_id=str(delivery.case_id) if delivery.case_id else None,
                correlation_id=delivery.correlation_id,
                delivery_id=str(delivery.id),
            ),
            tracing.span(
                f"{delivery.channel.value} send",  # "email send", "webhook send"
                kind=SpanKind.CLIENT,
                traceparent=delivery.traceparent,
                tracestate=delivery.tracestate,
                attributes={
                    "kipina.delivery.id": str(delivery.id),
                    "kipina.delivery.channel": delivery.channel.value,
                    "kipina.delivery.attempt": delivery.attempts,
                    "kipina.delivery.template": delivery.template,
                    "cloudevents.event_subject": str(delivery.case_id or ""),
                },
            ) as span,
        ):
            error: str | None = None
            permanent = False
            try:
                await self._send(due)
            except DeliveryError as exc:
                error, permanent = str(exc), exc.permanent
            except Exception as exc:  # SMTP, network, timeouts: all retried
                error = f"{type(exc).__name__}: {exc}"
            DELIVERY_ATTEMPTS.labels(delivery.channel.value, "ok" if error is None else "error").inc()
            if error is not None:
                span.set_status(Status(StatusCode.ERROR, error))
            # Inside the send's span: the outcome event carries the delivery's trace.
            await self._record(delivery, error=error, permanent=permanent)

    async def _record(self, delivery: Delivery, *, error: str | None, permanent: bool) -> None:
        """Record the attempt's outcome; while the database is away, again until it answers or the lease ends.

        A message the SMTP server accepted is recorded as delivered as soon as the database is back, rather than
        left to its lease and sent a second time. Recording twice is harmless: it is keyed by the attempt, and the
        second finds it done. Only a process that dies before recording leaves the message to be sent again.
        """
        # Well inside the lease taken at the claim (the send took some of it).
        lease_ends = time.monotonic() + self._settings.delivery_lease_s / 2
        pause = 0.25
        while True:
            try:
                await workflow.record_delivery_outcome(
                    uow=self._runtime.unit_of_work(
                        NotifyRepository,
                        correlation_id=delivery.correlation_id,
                        causation_id=str(delivery.source_event_id),
                    ),
                    delivery=delivery,
                    error=error,
                    permanent=permanent,
                    retry=self._retry,
                )
                return
            except DATABASE_AWAY as exc:
                if time.monotonic() + pause >= lease_ends:  # the lease is over: another round owns the delivery
                    log.error("could not record delivery result before its lease ended", error=repr(exc))
                    return
                log.warning("could not record delivery result; the database is away, trying again", error=repr(exc))
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)
            except Exception as exc:  # the lease expires and the delivery is retried (at-least-once)
                log.error("could not record delivery result", error=repr(exc))
                return

    async def _send(self, due: DueDelivery) -> None:
        match due.delivery.channel:
            case Channel.EMAIL:
                await self._send_email(due.delivery)
            case Channel.WEBHOOK:
                await self._post_webhook(due)
            case other:
                raise DeliveryError(f"notify does not deliver on the {other.value} channel", permanent=True)

    async def _send_email(self, delivery: Delivery) -> None:
        s = self._settings
        if self._local_hostname is None:
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        await aiosmtplib.send(
            build_email(delivery, mail_from=s.mail_from, now=datetime.now(UTC)),
            local_hostname=self._local_hostname,
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username or None,
            password=s.smtp_password.get_secret_value() or None,
            start_tls=s.smtp_starttls,
            timeout=s.smtp_timeout_s,
        )

    async def _post_webhook(self, due: DueDelivery) -> None:
        if not due.webhook_active or due.webhook_url is None or due.webhook_secret is None:
            raise DeliveryError("webhook subscription was deleted", permanent=True)
        # The name is resolved again now, every address checked, and the POST goes to a checked address: a name
        # that has turned private since it was subscribed (DNS rebinding) is refused for good, not retried.
        try:
            addresses = await self._targets.addresses(due.webhook_url)
        except TargetRefused as exc:
            raise DeliveryError(f"webhook target refused: {exc}", permanent=True) from exc
        except TargetUnresolved as exc:
            raise DeliveryError(str(exc)) from exc
        try:
            secret = self._secrets.open(due.webhook_secret)
        except SecretUnreadable as exc:
            raise DeliveryError(f"webhook secret unreadable: {exc}", permanent=True) from exc
        body = due.delivery.body.encode()
        target = pinned(due.webhook_url, addresses[0])
        response = await self._http.post(
            target.url,
            content=body,
            headers={
                "Host": target.host_header,
                "Content-Type": CONTENT_TYPE,
                SIGNATURE_HEADER: sign(body, secret),
                "X-Kipina-Delivery-Id": str(due.delivery.id),
            },
            extensions=target.extensions,
            timeout=self._settings.webhook_timeout_s,
        )
        if not domain.webhook_succeeded(response.status_code):
            raise DeliveryError(f"webhook answered HTTP {response.status_code}")


async def smtp_health(settings: NotifySettings) -> Health:
    """The operator dashboard's SMTP check: connect to the configured server (STARTTLS when configured), EHLO, NOOP,
    QUIT, with a short timeout; no login and no message. Shown, never part of readiness: a delivery the server
    refuses is retried, so SMTP being away must not take notify out of service."""
    server = f"{settings.smtp_host}:{settings.smtp_port}"
    smtp = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        timeout=min(SMTP_CHECK_TIMEOUT_S, settings.smtp_timeout_s),
        start_tls=settings.smtp_starttls,
    )
    started = time.perf_counter()
    try:
        await smtp.connect()
        await smtp.ehlo()
        await smtp.noop()
    except Exception as exc:  # refused, timed out, or an SMTP error: the dashboard shows which
        return Health(ok=False, error=repr(exc))
    finally:
        if smtp.is_connected:
            with contextlib.suppress(Exception):
                await smtp.quit()
    elapsed_ms = round((time.perf_counter() - started) * 1000)
    return Health(ok=True, detail="smtp_detail", values={"server": server, "ms": elapsed_ms})


def delivery_worker(targets: WebhookTargets) -> BackgroundJob:
    """The background job (runs until the service stops), sending webhooks only to addresses ``targets`` allows."""

    async def send_deliveries(runtime: Runtime) -> None:
        settings = cast(NotifySettings, runtime.settings)
        # No redirects (a target could bounce a delivery to a private address) and no kept-alive connections (one
        # made for a name must not carry a request for another name at the same address).
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(follow_redirects=False, limits=limits) as http:
            worker = DeliveryWorker(
                runtime=runtime, settings=settings, http=http, targets=targets, secrets=settings.secret_box()
            )
            await worker.run()

    return send_deliveries
