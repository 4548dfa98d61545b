"""The email of a delivery: the headers RFC 5322 requires, a stable Message-ID, the Kipinä headers."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.utils import parsedate_to_datetime

from services.notify.domain import Delivery, DeliveryStatus
from services.notify.worker import build_email
from shared.vocabulary import Channel

SENT = datetime(2026, 3, 9, 14, 5, 7, tzinfo=UTC)


def delivery() -> Delivery:
    return Delivery(
        id=uuid.UUID("00000000-0000-0000-0000-0000000000d1"),
        case_id=uuid.UUID("00000000-0000-0000-0000-0000000000c1"),
        source_event_id=uuid.uuid4(),
        source_event_type="kipina.case.submitted.v1",
        correlation_id="corr-1",
        channel=Channel.EMAIL,
        recipient="aino@example.org",
        recipient_name="Aino Äijälä",
        webhook_id=None,
        language="fi",
        template="case_submitted",
        subject="Vastaanotimme hakemuksesi",
        body="Kiitos!",
        status=DeliveryStatus.SENDING,
        attempts=1,
        next_attempt_at=SENT,
        lease_until=SENT,
        last_error=None,
        created_at=SENT,
        delivered_at=None,
    )


def test_every_email_has_a_date_and_a_message_id() -> None:
    message = build_email(delivery(), mail_from="Kipinä <no-reply@kipina.local>", now=SENT)
    assert message["Date"] == "Mon, 09 Mar 2026 14:05:07 +0000"
    assert message["Message-ID"] == "<00000000-0000-0000-0000-0000000000d1@kipina.local>"
    assert message["X-Kipina-Case-Id"] == "00000000-0000-0000-0000-0000000000c1"

    # On the wire, and read back as a mail client would.
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsedate_to_datetime(str(parsed["Date"])) == SENT
    assert parsed["Message-ID"] == message["Message-ID"]
    assert str(parsed["From"]) == "Kipinä <no-reply@kipina.local>"
    [to] = parsed["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Aino Äijälä", "aino@example.org")
    assert parsed["Content-Language"] == "fi"


def test_text_in_any_language_reads_back_as_written_and_stays_readable_on_the_wire() -> None:
    body = "Hei Åsa Öhman,\n\nhakemuksesi ”Älykäs lupapalvelu” on vastaanotettu – kiitos! " + "pitkä rivi " * 20 + "\n"
    subject = "Vastaanotimme hakemuksesi: Älykäs lupapalvelu för Vörå"
    message = build_email(
        dataclasses.replace(delivery(), subject=subject, body=body, recipient_name="Åsa Öhman"),
        mail_from="Kipinä <no-reply@kipina.local>",
        now=SENT,
    )
    raw = message.as_bytes()
    assert raw.isascii()  # no 8-bit data for a server without 8BITMIME
    assert b"Content-Transfer-Encoding: quoted-printable" in raw  # the body stays readable as text
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == subject
    assert parsed["To"].addresses[0].display_name == "Åsa Öhman"
    assert parsed.get_content() == body


def test_the_date_is_utc_and_the_message_id_survives_a_resend() -> None:
    helsinki = timezone(timedelta(hours=2))
    first = build_email(delivery(), mail_from="k@kipina.local", now=SENT)
    resent = build_email(delivery(), mail_from="k@kipina.local", now=datetime(2026, 3, 9, 18, 0, tzinfo=helsinki))
    assert resent["Date"] == "Mon, 09 Mar 2026 16:00:00 +0000"
    assert resent["Message-ID"] == first["Message-ID"]
