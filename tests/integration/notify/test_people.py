"""Reviewers, jurors and operators hear what concerns them (docs/people.md), through the real Kafka + PostgreSQL
and a local SMTP sink: each event addresses its people, in their language, by email when their address is known
and in-app always; operators hear of a service's dead letters once per window."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from shared.events import (
    CaseRejectedV1,
    CaseSubmittedV1,
    ChangesAnsweredV1,
    DeadLetteredV1,
    DueReason,
    EvaluationCompleteV1,
    JurorsAssignedV1,
    Person,
    ScoringDueV1,
    TaskDueSoonV1,
)
from shared.vocabulary import Language
from tests.integration.notify.conftest import notify_service, produce
from tests.support.harness import auth, eventually
from tests.support.kafka import submitted
from tests.support.mail import SmtpSink

pytestmark = pytest.mark.integration

DUE = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def _to(message: object) -> str:
    return message["To"].addresses[0].addr_spec  # type: ignore[index]


async def test_reviewers_and_jurors_are_told_in_their_language_by_email_and_in_app(
    infra_env: dict[str, str], smtp_sink: SmtpSink, producer: AIOKafkaProducer
) -> None:
    case_id, call_id = uuid.uuid4(), uuid.uuid4()
    tag = case_id.hex[:8]
    titles = {"case_title": f"Neuvonta {tag}", "call_title": "Laatukilpailu"}
    jaana = Person(user_id=f"juror-{tag}", name="Jaana", email=f"jaana-{tag}@example.org", language=Language.FI)
    jon = Person(user_id=f"juror2-{tag}", name="Jon", language=Language.SV)  # no address: in-app only
    riikka = Person(user_id=f"rev-{tag}", name="Riikka", email=f"riikka-{tag}@example.org", language=Language.SV)
    async with notify_service(
        infra_env, KIPINA_NOTIFY_SMTP_PORT=str(smtp_sink.port), KIPINA_NOTIFY_SMTP_HOST="127.0.0.1"
    ) as client:
        await produce(
            producer,
            TaskDueSoonV1(
                task_id=uuid.uuid4(),
                case_id=case_id,
                call_id=call_id,
                iteration=1,
                reviewer=riikka,
                reason=DueReason.SLA,
                due_at=DUE,
                **titles,
            ),
            case_id=case_id,
        )
        await produce(
            producer,
            ChangesAnsweredV1(
                case_id=case_id,
                call_id=call_id,
                iteration=1,
                revision=2,
                reviewers=[riikka],
                addressed_points=[uuid.uuid4()],
                open_points=1,
                **titles,
            ),
            case_id=case_id,
        )
        await produce(
            producer,
            JurorsAssignedV1(case_id=case_id, call_id=call_id, jurors=[jaana, jon], scoring_due_at=DUE, **titles),
            case_id=case_id,
        )
        await produce(
            producer, ScoringDueV1(case_id=case_id, call_id=call_id, juror=jaana, due_at=DUE, **titles), case_id=case_id
        )

        mails = await eventually(
            lambda: _async(m if len(m := smtp_sink.for_case(case_id)) >= 4 else None), what="four emails"
        )
        by_template = {m["X-Kipina-Template"]: m for m in mails}
        assert sorted(by_template) == ["changes_answered", "jurors_assigned", "scoring_due", "task_due_soon"]
        assert _to(by_template["task_due_soon"]) == riikka.email
        assert by_template["task_due_soon"]["Subject"] == f"En granskning du har ska snart vara klar: Neuvonta {tag}"
        assert "2026-12-01 09:30 UTC" in by_template["task_due_soon"].get_content()
        assert _to(by_template["changes_answered"]) == riikka.email
        assert "1 återkopplingspunkt;" in by_template["changes_answered"].get_content()
        assert _to(by_template["jurors_assigned"]) == jaana.email
        assert by_template["jurors_assigned"]["Subject"] == f"Pisteytettävä hakemus: Neuvonta {tag}"
        assert _to(by_template["scoring_due"]) == jaana.email

        # Jon has no address: he reads it in his feed, in Swedish; the emails reached nobody else.
        feed = (await client.get("/feed", headers=auth("juror", user=jon.user_id))).json()
        assert [(i["template"], i["language"]) for i in feed["items"]] == [("jurors_assigned", "sv")]
        feed = (await client.get("/feed", headers=auth("juror", user=jaana.user_id))).json()
        assert sorted(i["template"] for i in feed["items"]) == ["jurors_assigned", "scoring_due"]
        assert len(mails) == 4


async def test_operators_hear_that_a_call_is_ready_and_of_dead_letters_once_per_window(
    infra_env: dict[str, str], smtp_sink: SmtpSink, producer: AIOKafkaProducer
) -> None:
    tag = uuid.uuid4().hex[:8]
    ops = f"ops-{tag}@example.org"
    service = f"review-{tag}"  # a service name of this test only: its own alert window
    call_id = uuid.uuid4()

    def to_ops(template: str) -> list[object]:
        return [m for m in smtp_sink.messages if _to(m) == ops and m["X-Kipina-Template"] == template]

    def dead_letter(dead_letter_id: int) -> DeadLetteredV1:
        return DeadLetteredV1(
            service=service,
            dead_letter_id=dead_letter_id,
            source_topic="kipina.intake.v1",
            source_partition=2,
            source_offset=100 + dead_letter_id,
            event_type_seen="kipina.case.submitted.v1",
            reason="handler_error",
            error="ValueError: boom",
            attempts=5,
        )

    async with notify_service(
        infra_env,
        KIPINA_NOTIFY_SMTP_PORT=str(smtp_sink.port),
        KIPINA_NOTIFY_SMTP_HOST="127.0.0.1",
        KIPINA_NOTIFY_OPERATOR_EMAILS=ops,
    ):
        await produce(
            producer, EvaluationCompleteV1(call_id=call_id, call_title=f"Kilpailu {tag}", cases=2), case_id=call_id
        )
        (ready,) = await eventually(lambda: _async(to_ops("evaluation_complete") or None), what="ready to decide")
        assert ready["Subject"] == f"Ready to decide: Kilpailu {tag}"
        assert "2 cases wait for your decision" in ready.get_content()
        assert ready["X-Kipina-Case-Id"] is None  # about a call, not a case

        # Two dead letters of one service in a row (same key, same partition: handled in order).
        await produce(producer, dead_letter(1), case_id=call_id)
        second = await produce(producer, dead_letter(2), case_id=call_id)
        (alert,) = await eventually(lambda: _async(to_ops("dead_lettered") or None), what="dead-letter alert")
        assert alert["Subject"] == f"Dead letters in {service}"
        assert "kipina.intake.v1/2@101" in alert.get_content() and "ValueError: boom" in alert.get_content()

        # The fact to wait for: notify handled the second one (its inbox has it); it asked for no email.
        conn = await asyncpg.connect(infra_env["KIPINA_NOTIFY_DATABASE_URL"])
        try:
            await eventually(
                lambda: conn.fetchval("SELECT 1 FROM inbox WHERE event_id = $1", second), what="second dead letter"
            )
            pending = await conn.fetchval(
                "SELECT count(*) FROM deliveries WHERE template = 'dead_lettered' AND status <> 'delivered'"
            )
        finally:
            await conn.close()
        assert pending == 0
        assert len(to_ops("dead_lettered")) == 1


async def _async(value: object) -> object:
    return value


async def test_a_review_event_read_before_the_cases_submission_reaches_the_submitter_once_it_comes(
    infra_env: dict[str, str], smtp_sink: SmtpSink, producer: AIOKafkaProducer
) -> None:
    """Review's topic and intake's are read independently: the rejection may be read before the submission that
    names the case's people. It waits for the submission, and then the submitter hears of both, once each."""
    case_id = uuid.uuid4()
    event = submitted(str(case_id), f"Early {case_id.hex[:8]}")
    snapshot = CaseSubmittedV1.model_validate(event.data).case
    async with notify_service(
        infra_env, KIPINA_NOTIFY_SMTP_PORT=str(smtp_sink.port), KIPINA_NOTIFY_SMTP_HOST="127.0.0.1"
    ):
        rejected = CaseRejectedV1(
            case_id=case_id, call_id=snapshot.call_id, iteration=1, reviewer_ids=["rev-1"], comment="Out of scope."
        )
        rejection_id = await produce(producer, rejected, case_id=case_id)
        conn = await asyncpg.connect(infra_env["KIPINA_NOTIFY_DATABASE_URL"])
        try:

            async def waiting() -> list[asyncpg.Record] | None:
                rows = await conn.fetch("SELECT event_id FROM awaiting_directory WHERE case_id = $1", case_id)
                return rows or None

            kept = await eventually(waiting, what="the rejection waiting for the case's people")
            assert [r["event_id"] for r in kept] == [rejection_id]
            assert smtp_sink.for_case(case_id) == []  # nobody to tell yet

            await produce(producer, CaseSubmittedV1(case=snapshot), case_id=case_id)
            mails = await eventually(
                lambda: _async(m if len(m := smtp_sink.for_case(case_id)) >= 2 else None), what="two emails"
            )
            assert sorted(m["X-Kipina-Template"] for m in mails) == ["case_rejected", "case_submitted"]
            assert {_to(m) for m in mails} == {snapshot.submitter.email}
            assert await conn.fetchval("SELECT count(*) FROM awaiting_directory WHERE case_id = $1", case_id) == 0
            deliveries = await conn.fetchval("SELECT count(*) FROM deliveries WHERE case_id = $1", case_id)
            assert deliveries == 2
        finally:
            await conn.close()
