"""Notify against the real Kafka + PostgreSQL and a local SMTP sink."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.events import (
    AwardDecidedV1,
    CaseSnapshot,
    CaseSubmittedV1,
    ChangesRequestedV1,
    Contact,
    EvaluationOpenedV1,
    Organisation,
    ResultsPublishedV1,
)
from shared.vocabulary import AwardOutcome, Category, IsoStage, Language
from tests.integration.notify.conftest import NotifyTopic, notify_service, produce
from tests.support.harness import auth, eventually
from tests.support.mail import SmtpSink, free_port
from tests.support.webhooks import WebhookReceiver

pytestmark = pytest.mark.integration

DELIVERED = "kipina.notification.delivered.v1"
FAILED = "kipina.notification.failed.v1"


def submitted(case_id: uuid.UUID, *, submitter_id: str, language: Language = Language.FI) -> CaseSubmittedV1:
    tag = case_id.hex[:8]
    return CaseSubmittedV1(
        case=CaseSnapshot(
            case_id=case_id,
            call_id=uuid.uuid4(),
            call_title="Laatukilpailu",
            revision=1,
            title=f"Digitaalinen neuvonta {tag}",
            summary="s",
            problem="p",
            solution="x",
            organisation=Organisation(id="org-1", name="Kaupunki", business_id="1234567-8"),
            submitter_id=submitter_id,
            submitter=Contact(name="Aino", email=f"aino-{tag}@example.org", language=language),
            team=[Contact(name="Björn", email=f"bjorn-{tag}@example.org", language=Language.SV)],
            partners=[Contact(name="Pat", email=f"pat-{tag}@example.org", language=Language.EN)],
            category=Category.PUBLIC_SECTOR,
            language=Language.FI,
            iso_stage=IsoStage.CONCEPT,
        )
    )


def changes_requested(case_id: uuid.UUID) -> ChangesRequestedV1:
    return ChangesRequestedV1(
        case_id=case_id, call_id=uuid.uuid4(), iteration=1, reviewer_ids=["rev-1"], comment="Lisää mittarit."
    )


async def test_emails_feed_dedupe_and_webhooks(
    infra_env: dict[str, str],
    smtp_sink: SmtpSink,
    notify_topic: NotifyTopic,
    producer: AIOKafkaProducer,
    webhook_receiver: WebhookReceiver,
) -> None:
    case_id = uuid.uuid4()
    submitter = f"user-{uuid.uuid4().hex[:8]}"
    tag = case_id.hex[:8]
    async with notify_service(
        infra_env,
        KIPINA_NOTIFY_SMTP_PORT=str(smtp_sink.port),
        KIPINA_NOTIFY_SMTP_HOST="127.0.0.1",
        KIPINA_NOTIFY_OPERATOR_EMAILS=f"ops-{tag}@example.org",
    ) as client:
        operator = auth("operator", user="op-1", org="org-ops")

        # Two webhooks: one for everything, one for published results only. None may have award decisions.
        secret = "s3cret-s3cret-s3cret"
        r = await client.post(
            "/webhooks",
            json={"url": webhook_receiver.url, "secret": secret, "event_types": ["kipina.award.decided.v1"]},
            headers=operator,
        )
        assert r.status_code == 422, r.text
        assert "kipina.award.decided.v1 is embargoed" in r.json()["message"]
        webhooks = {}
        for name, types in (("everything", []), ("results", ["kipina.award.results_published.v1"])):
            r = await client.post(
                "/webhooks",
                json={"url": webhook_receiver.url, "secret": secret, "event_types": types},
                headers=operator,
            )
            assert r.status_code == 201, r.text
            webhooks[name] = r.json()
            assert "secret" not in webhooks[name]

        # 1. submitted → the submitter hears in Finnish, the team member in Swedish (the event comes with a trace
        #    of its own)
        started = datetime.now(UTC)
        trace_id = uuid.uuid4().hex
        await produce(
            producer,
            submitted(case_id, submitter_id=submitter),
            case_id=case_id,
            traceparent=f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01",
        )
        await eventually(lambda: _async(len(smtp_sink.for_case(case_id)) >= 2), what="receipt emails")
        receipts = {m["To"].addresses[0].addr_spec: m for m in smtp_sink.for_case(case_id)}
        receipt = receipts[f"aino-{tag}@example.org"]
        assert receipt["Subject"].startswith("Vastaanotimme hakemuksesi")
        assert receipts[f"bjorn-{tag}@example.org"]["Subject"].startswith("Vi har tagit emot din ansökan")
        assert receipt["From"] == "Kipinä <no-reply@kipina.local>"
        # RFC 5322: a Date (in UTC, no earlier than the event that asked for the email) and the delivery's
        # stable Message-ID.
        sent_at = receipt["Date"].datetime
        assert sent_at.utcoffset() == timedelta(0)
        assert started.replace(microsecond=0) <= sent_at <= datetime.now(UTC)
        assert receipt["Message-ID"] == f"<{receipt['X-Kipina-Delivery-Id']}@kipina.local>"

        # 2. changes requested, produced twice with the same event id → one email per person
        event_id = uuid.uuid4()
        await produce(producer, changes_requested(case_id), case_id=case_id, event_id=event_id)
        await produce(producer, changes_requested(case_id), case_id=case_id, event_id=event_id)

        def changes_mails() -> list:
            return [m for m in smtp_sink.for_case(case_id) if m["X-Kipina-Template"] == "changes_requested"]

        await eventually(lambda: _async(len(changes_mails()) >= 2), what="changes-requested emails")
        by_recipient = {m["To"].addresses[0].addr_spec: m for m in changes_mails()}
        assert by_recipient[f"aino-{tag}@example.org"]["Subject"].startswith("Hakemukseesi pyydetään muutoksia")
        assert "Lisää mittarit." in by_recipient[f"aino-{tag}@example.org"].get_content()
        assert by_recipient[f"bjorn-{tag}@example.org"]["Subject"].startswith("Ändringar begärs")

        # 3. NotificationDeliveredV1 on kipina.notify.v1 (4 emails so far)
        def emails_delivered_events() -> list[dict[str, Any]]:
            return [e for e in notify_topic.for_case(case_id, DELIVERED) if e["data"]["channel"] == "email"]

        await eventually(lambda: _async(len(emails_delivered_events()) >= 4), what="NotificationDeliveredV1 x4")
        delivered = notify_topic.for_case(case_id, DELIVERED)
        emails_delivered = emails_delivered_events()
        assert {e["data"]["template"] for e in emails_delivered} == {"case_submitted", "changes_requested"}
        assert all(e["data"]["attempts"] == 1 for e in delivered)
        assert any(e["causationid"] == str(event_id) for e in delivered)
        # The receipt's delivery joined the submission's trace: recorded in the consumer's span, sent in a
        # span continuing it, and announced from inside that span.
        receipts_delivered = [e for e in emails_delivered if e["data"]["template"] == "case_submitted"]
        assert len(receipts_delivered) == 2
        assert all(e["traceparent"].split("-")[1] == trace_id for e in receipts_delivered)

        # 4. the award decision is embargoed: only the configured operator hears of it; then the results are
        #    published → everyone (3 people) hears their outcome with the jury's feedback, and the webhooks
        call_id = uuid.uuid4()
        await produce(
            producer,
            EvaluationOpenedV1(case_id=case_id, call_id=call_id, criteria=[], juror_ids=[]),
            case_id=case_id,
        )
        await produce(
            producer,
            AwardDecidedV1(
                case_id=case_id,
                call_id=call_id,
                outcome=AwardOutcome.FINALIST,
                weighted_score=3.2,
                rank_in_category=4,
                feedback="Selkeä vaikuttavuus.",
            ),
            case_id=case_id,
        )

        def mails_of(template: str) -> list:
            return [m for m in smtp_sink.for_case(case_id) if m["X-Kipina-Template"] == template]

        (told,) = await eventually(lambda: _async(mails_of("award_decided")), what="the operator's decision email")
        assert told["To"].addresses[0].addr_spec == f"ops-{tag}@example.org"
        await produce(
            producer,
            ResultsPublishedV1(
                case_id=case_id, call_id=call_id, outcome=AwardOutcome.FINALIST, feedback="Selkeä vaikuttavuus."
            ),
            case_id=case_id,
        )
        await eventually(lambda: _async(len(mails_of("results_published")) == 3), what="results emails")
        results = {m["To"].addresses[0].addr_spec: m for m in mails_of("results_published")}
        assert results[f"aino-{tag}@example.org"]["Subject"] == (
            f"Tulokset on julkaistu: Digitaalinen neuvonta {tag} – finalisti"
        )
        assert "Selkeä vaikuttavuus." in results[f"aino-{tag}@example.org"].get_content()
        assert results[f"bjorn-{tag}@example.org"]["Subject"].startswith("Resultaten har publicerats")
        assert "3.2" not in results[f"pat-{tag}@example.org"].get_content()  # no score in the published result

        def hooks() -> list:
            return [(h, b) for h, b in webhook_receiver.requests if json.loads(b).get("subject") == str(case_id)]

        # Every event of the case has been handled (the results emails were sent, and the events before them on
        # the same partition were handled first), so every webhook delivery it asked for is recorded. Once none
        # of the case's deliveries is pending or sending, every POST has been made: nothing else can still arrive.
        settled = await eventually(
            lambda: _settled_deliveries(client, case_id, operator), what="the case's deliveries to settle"
        )
        by_webhook = sorted((d["recipient"], d["source_event_type"]) for d in settled if d["channel"] == "webhook")
        everything, results_only = webhooks["everything"]["id"], webhooks["results"]["id"]
        assert by_webhook == sorted(
            [
                (everything, "kipina.case.submitted.v1"),
                (everything, "kipina.review.changes_requested.v1"),
                (everything, "kipina.award.evaluation_opened.v1"),
                (everything, "kipina.award.results_published.v1"),
                (results_only, "kipina.award.results_published.v1"),
            ]
        )
        assert len(hooks()) == 5
        for headers, body in hooks():
            assert headers["content-type"] == "application/cloudevents+json"
            expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            assert headers["x-kipina-signature"] == f"sha256={expected}"
            assert json.loads(body)["type"] != "kipina.award.decided.v1"
        published_body = json.loads(next(b for _, b in hooks() if b"results_published" in b))
        assert published_body["data"]["feedback"] == "Selkeä vaikuttavuus."

        # exactly one email per (event, recipient), even after the duplicate
        assert len(changes_mails()) == 2
        # receipts 2, changes requested 2, the operator's decision 1, results 3 (the jury's start tells nobody)
        assert len(smtp_sink.for_case(case_id)) == 2 + 2 + 1 + 3
        mails = smtp_sink.for_case(case_id)
        assert all(m["Date"] is not None for m in mails)
        assert len({m["Message-ID"] for m in mails}) == len(mails)

        # 5. the submitter's in-app feed, newest first: no decision in it
        me = auth("submitter", user=submitter)
        r = await client.get("/feed", headers=me)
        assert r.status_code == 200, r.text
        feed = r.json()
        assert feed["total"] == 3 and feed["limit"] == 50 and feed["offset"] == 0
        assert [i["template"] for i in feed["items"]] == [
            "results_published",
            "changes_requested",
            "case_submitted",
        ]
        assert "Selkeä vaikuttavuus." in feed["items"][0]["body"]
        item_id = feed["items"][0]["id"]
        other = auth("submitter", user="someone-else")
        assert (await client.post(f"/feed/{item_id}/read", headers=other)).status_code == 404
        assert (await client.get("/feed", headers=other)).json()["total"] == 0
        r = await client.post(f"/feed/{item_id}/read", headers=me)
        assert r.status_code == 200 and r.json()["read_at"] is not None
        r = await client.get("/feed", params={"unread_only": "true", "limit": 1}, headers=me)
        assert r.json()["total"] == 2 and len(r.json()["items"]) == 1

        # 6. operator delivery logs
        r = await client.get(f"/cases/{case_id}/deliveries", headers=operator)
        assert r.status_code == 200, r.text
        assert r.json()["total"] == 13  # 8 emails + 5 webhook POSTs
        r = await client.get(
            "/deliveries",
            params={"case_id": str(case_id), "channel": "webhook", "status": "delivered"},
            headers=operator,
        )
        assert r.json()["total"] == 5

        # 7. webhooks: list, delete, delete again
        r = await client.get("/webhooks", headers=operator)
        assert sorted(w["id"] for w in r.json()["items"]) == sorted([everything, results_only])
        for webhook_id in (everything, results_only):
            assert (await client.delete(f"/webhooks/{webhook_id}", headers=operator)).status_code == 204
        assert (await client.delete(f"/webhooks/{everything}", headers=operator)).status_code == 404
        assert (await client.get("/webhooks", headers=operator)).json()["total"] == 0


async def test_auth_and_validation(infra_env: dict[str, str], smtp_sink: SmtpSink) -> None:
    async with notify_service(infra_env, KIPINA_NOTIFY_SMTP_PORT=str(smtp_sink.port)) as client:
        assert (await client.get("/feed")).status_code == 401
        assert (await client.get("/feed", headers={"Authorization": "Bearer nope"})).status_code == 401
        submitter = auth("submitter")
        for method, path in [
            ("GET", "/deliveries"),
            ("GET", f"/cases/{uuid.uuid4()}/deliveries"),
            ("GET", "/webhooks"),
            ("DELETE", f"/webhooks/{uuid.uuid4()}"),
        ]:
            r = await client.request(method, path, headers=submitter)
            assert r.status_code == 403, (method, path, r.text)
        r = await client.post(
            "/webhooks", json={"url": "http://x.example/h", "secret": "0123456789abcdef"}, headers=submitter
        )
        assert r.status_code == 403

        operator = auth("operator")
        bad = [
            {"url": "ftp://x.example/h", "secret": "0123456789abcdef"},
            {"url": "http://x.example/h", "secret": "short"},
            {"url": "http://x.example/h", "secret": "0123456789abcdef", "event_types": ["kipina.nope.v1"]},
        ]
        for body in bad:
            r = await client.post("/webhooks", json=body, headers=operator)
            assert r.status_code == 422, r.text
            assert r.json()["error"] == "validation_failed" and r.json()["message"]
        r = await client.get("/deliveries", params={"status": "lost"}, headers=operator)
        assert r.status_code == 422
        r = await client.get("/deliveries", params={"limit": 0}, headers=operator)
        assert r.status_code == 422
        assert (await client.post(f"/feed/{uuid.uuid4()}/read", headers=submitter)).status_code == 404


async def test_smtp_down_retries_then_fails(
    infra_env: dict[str, str], notify_topic: NotifyTopic, producer: AIOKafkaProducer
) -> None:
    case_id = uuid.uuid4()
    async with notify_service(
        infra_env,
        KIPINA_NOTIFY_SMTP_PORT=str(free_port()),  # nothing listens there
        KIPINA_NOTIFY_DELIVERY_MAX_ATTEMPTS="3",
        KIPINA_NOTIFY_DELIVERY_BACKOFF_BASE_S="0.2",
        KIPINA_NOTIFY_SMTP_TIMEOUT_S="2",
    ) as client:
        await produce(producer, submitted(case_id, submitter_id="user-x", language=Language.EN), case_id=case_id)
        failed = await eventually(
            lambda: _async(notify_topic.for_case(case_id, FAILED)), timeout=60, what="NotificationFailedV1"
        )
        assert failed[0]["data"]["attempts"] == 3
        assert failed[0]["data"]["template"] == "case_submitted"
        assert failed[0]["data"]["error"]
        r = await client.get(f"/cases/{case_id}/deliveries", headers=auth("operator"))
        item = r.json()["items"][0]
        assert item["status"] == "failed" and item["attempts"] == 3 and item["last_error"]
        assert notify_topic.for_case(case_id, DELIVERED) == []


async def _async(value):  # eventually() wants an awaitable probe
    return value


async def _settled_deliveries(
    client: httpx.AsyncClient, case_id: uuid.UUID, headers: dict[str, str]
) -> list[dict[str, Any]] | None:
    """The case's deliveries once none is waiting or being sent (None before)."""
    r = await client.get(f"/cases/{case_id}/deliveries", headers=headers)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items if items and all(d["status"] in ("delivered", "failed") for d in items) else None
