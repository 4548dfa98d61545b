"""Notify's pure rules: who hears about what, in which language, and retry timing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.notify import domain
from services.notify.domain import Audience, DeliveryStatus, Template
from services.notify.handlers import build_router
from services.notify.rendering import render
from services.notify.schemas import WebhookBody
from services.notify.settings import NotifySettings
from services.notify.worker import sign
from shared import topics
from shared.events import (
    EVENT_TYPES,
    AwardDecidedV1,
    CallAnnouncedV1,
    CaseNominatedV1,
    CaseRejectedV1,
    CaseRevisedV1,
    CaseSnapshot,
    CaseSubmittedV1,
    CaseWithdrawnV1,
    ChangesAnsweredV1,
    ChangesRequestedV1,
    Contact,
    DeadLetteredV1,
    DueReason,
    EvaluationCompleteV1,
    EvaluationOpenedV1,
    EventPayload,
    FeedbackItem,
    IterationEscalatedV1,
    IterationOpenedV1,
    JurorsAssignedV1,
    NotificationDeliveredV1,
    NotificationFailedV1,
    Organisation,
    Person,
    ResultsPublishedV1,
    ScoringDueV1,
    StageAdvancedV1,
    TaskDueSoonV1,
)
from shared.vocabulary import AwardOutcome, Category, IsoStage, Language

CASE_ID = uuid.uuid4()
CALL_ID = uuid.uuid4()


def snapshot(*, revision: int = 1, language: Language = Language.FI) -> CaseSnapshot:
    return CaseSnapshot(
        case_id=CASE_ID,
        call_id=CALL_ID,
        call_title="Laatukilpailu 2025",
        revision=revision,
        title="Digitaalinen neuvonta",
        summary="s",
        problem="p",
        solution="x",
        organisation=Organisation(id="org-1", name="Kaupunki", business_id="1234567-8"),
        submitter_id="user-1",
        submitter=Contact(name="Aino", email="aino@example.org", language=language),
        team=[
            Contact(name="Björn", email="bjorn@example.org", language=Language.SV),
            Contact(name="Aino again", email="AINO@example.org", language=Language.EN),
        ],
        partners=[Contact(name="Pat", email="pat@example.org", language=Language.EN)],
        category=Category.PUBLIC_SECTOR,
        language=Language.FI,
        iso_stage=IsoStage.CONCEPT,
    )


DIRECTORY = domain.directory_from_snapshot(snapshot())


def recipients(payload: object, **kw: object) -> list[tuple[str, str]]:
    notices = domain.plan_notices(payload, DIRECTORY, operator_emails=kw.get("ops", []))  # type: ignore[arg-type]
    return [(n.recipient.email, str(n.template)) for n in notices]


def test_case_submitted_tells_the_submitter_and_the_team_not_the_partners() -> None:
    assert recipients(CaseSubmittedV1(case=snapshot())) == [
        ("aino@example.org", "case_submitted"),
        ("bjorn@example.org", "case_submitted"),
    ]


def test_changes_requested_tells_submitter_and_team_once_each_with_comment() -> None:
    payload = ChangesRequestedV1(case_id=CASE_ID, call_id=CALL_ID, iteration=1, reviewer_ids=["r"], comment="Lisää")
    notices = domain.plan_notices(payload, DIRECTORY, operator_emails=[])
    assert [n.recipient.email for n in notices] == ["aino@example.org", "bjorn@example.org"]
    assert notices[0].recipient.user_id == "user-1"  # the submitter keeps its user id (feed)
    assert notices[1].recipient.user_id is None
    assert all(n.context["comment"] == "Lisää" for n in notices)


def test_an_award_decision_is_embargoed_it_tells_only_the_configured_operators() -> None:
    payload = AwardDecidedV1(
        case_id=CASE_ID, call_id=CALL_ID, outcome=AwardOutcome.FINALIST, weighted_score=3.5, feedback="Hyvä"
    )
    assert recipients(payload) == []  # no submitter, team or partner; so no feed item either
    assert recipients(payload, ops=["ops@example.org"]) == [("ops@example.org", "award_decided")]
    notices = domain.plan_notices(payload, DIRECTORY, operator_emails=["ops@example.org"])
    assert [n.recipient.user_id for n in notices] == [None]


def test_an_award_decision_tells_the_jurors_who_scored_the_case_never_its_people() -> None:
    payload = AwardDecidedV1(
        case_id=CASE_ID,
        call_id=CALL_ID,
        outcome=AwardOutcome.FINALIST,
        weighted_score=3.5,
        scored_by=[JUROR, Person(user_id="juror-2", name="Jon", language=Language.SV)],
    )
    notices = domain.plan_notices(payload, DIRECTORY, operator_emails=["ops@example.org"])
    assert [(n.recipient.email, n.recipient.user_id, str(n.template)) for n in notices] == [
        ("ops@example.org", None, "award_decided"),
        ("jaana@example.org", "juror-1", "case_decided"),
        ("", "juror-2", "case_decided"),  # no address known: told in-app only
    ]
    assert {n.recipient.email for n in notices}.isdisjoint({"aino@example.org", "bjorn@example.org", "pat@example.org"})


def test_published_results_tell_everyone_their_outcome_and_the_jurys_feedback() -> None:
    payload = ResultsPublishedV1(
        case_id=CASE_ID, call_id=CALL_ID, outcome=AwardOutcome.PRIZE_WINNER, feedback="Rohkea ja vaikuttava."
    )
    notices = domain.plan_notices(payload, DIRECTORY, operator_emails=["ops@example.org"])
    assert [(n.recipient.email, str(n.template)) for n in notices] == [
        ("aino@example.org", "results_published"),
        ("bjorn@example.org", "results_published"),
        ("pat@example.org", "results_published"),
    ]
    assert notices[0].recipient.user_id == "user-1"  # the submitter's feed gets it too
    assert all(n.context["outcome"] == "prize_winner" for n in notices)
    assert all(n.context["feedback_text"] == "Rohkea ja vaikuttava." for n in notices)


NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
JUROR = Person(user_id="juror-1", name="Jaana", email="jaana@example.org", language=Language.FI)
REVIEWER = Person(user_id="reviewer-1", name="Riikka", email="riikka@example.org", language=Language.SV)
NOMINATED = CaseNominatedV1(
    case_id=CASE_ID,
    call_id=CALL_ID,
    call_title="c",
    iteration=2,
    reviewer_ids=[],
    title="t",
    summary="s",
    category=Category.EDUCATION,
    language=Language.EN,
    organisation_id="o",
    organisation_name="O",
    stage=IsoStage.SOLUTION,
)
TITLES = {"case_title": "Digitaalinen neuvonta", "call_title": "Laatukilpailu 2025"}

# Every event notify consumes, and what it tells whom: docs/people.md's table, as data. A new event type
# fails test_every_consumed_event_has_a_decided_audience until it is added here.
WHO_HEARS_WHAT: dict[type[EventPayload], tuple[EventPayload, list[tuple[Template, Audience]]]] = {
    CaseSubmittedV1: (CaseSubmittedV1(case=snapshot()), [(Template.CASE_SUBMITTED, Audience.SUBMITTER_AND_TEAM)]),
    CaseRevisedV1: (
        CaseRevisedV1(case=snapshot(revision=2)),
        [(Template.REVISION_RECEIVED, Audience.SUBMITTER_AND_TEAM)],
    ),
    CaseWithdrawnV1: (
        CaseWithdrawnV1(case_id=CASE_ID, call_id=CALL_ID),
        [(Template.WITHDRAWAL_CONFIRMED, Audience.SUBMITTER_AND_TEAM)],
    ),
    CallAnnouncedV1: (
        CallAnnouncedV1(
            call_id=CALL_ID,
            revision=1,
            title="c",
            opens_at=NOW,
            closes_at=NOW,
            categories=[],
            languages=[],
            reviewers_per_iteration=1,
            criteria=[],
        ),
        [],
    ),
    IterationOpenedV1: (
        IterationOpenedV1(
            case_id=CASE_ID, call_id=CALL_ID, iteration=1, revision=1, stage=IsoStage.CONCEPT, due_at=NOW
        ),
        [],
    ),
    ChangesRequestedV1: (
        ChangesRequestedV1(case_id=CASE_ID, call_id=CALL_ID, iteration=1, reviewer_ids=[], comment="c"),
        [(Template.CHANGES_REQUESTED, Audience.SUBMITTER_AND_TEAM)],
    ),
    StageAdvancedV1: (
        StageAdvancedV1(
            case_id=CASE_ID,
            call_id=CALL_ID,
            iteration=1,
            from_stage=IsoStage.CONCEPT,
            to_stage=IsoStage.VALIDATION,
            reviewer_ids=[],
        ),
        [(Template.STAGE_ADVANCED, Audience.SUBMITTER_AND_TEAM)],
    ),
    CaseRejectedV1: (
        CaseRejectedV1(case_id=CASE_ID, call_id=CALL_ID, iteration=1, reviewer_ids=[], comment="Ei"),
        [(Template.CASE_REJECTED, Audience.SUBMITTER_AND_TEAM)],
    ),
    CaseNominatedV1: (NOMINATED, [(Template.CASE_NOMINATED, Audience.SUBMITTER_AND_TEAM)]),
    IterationEscalatedV1: (
        IterationEscalatedV1(case_id=CASE_ID, call_id=CALL_ID, iteration=1, due_at=NOW),
        [(Template.ITERATION_ESCALATED, Audience.OPERATORS)],
    ),
    TaskDueSoonV1: (
        TaskDueSoonV1(
            task_id=uuid.uuid4(),
            case_id=CASE_ID,
            call_id=CALL_ID,
            iteration=1,
            reviewer=REVIEWER,
            reason=DueReason.LEASE,
            due_at=NOW,
            **TITLES,
        ),
        [(Template.TASK_DUE_SOON, Audience.ADDRESSED)],
    ),
    ChangesAnsweredV1: (
        ChangesAnsweredV1(case_id=CASE_ID, call_id=CALL_ID, iteration=1, revision=2, reviewers=[REVIEWER], **TITLES),
        [(Template.CHANGES_ANSWERED, Audience.ADDRESSED)],
    ),
    # The jury's start: the submitter already heard of the nomination, and the jurors hear of their assignment.
    EvaluationOpenedV1: (EvaluationOpenedV1(case_id=CASE_ID, call_id=CALL_ID, criteria=[], juror_ids=["j"]), []),
    JurorsAssignedV1: (
        JurorsAssignedV1(case_id=CASE_ID, call_id=CALL_ID, jurors=[JUROR], scoring_due_at=NOW, **TITLES),
        [(Template.JURORS_ASSIGNED, Audience.ADDRESSED)],
    ),
    ScoringDueV1: (
        ScoringDueV1(case_id=CASE_ID, call_id=CALL_ID, juror=JUROR, due_at=NOW, **TITLES),
        [(Template.SCORING_DUE, Audience.ADDRESSED)],
    ),
    AwardDecidedV1: (
        AwardDecidedV1(case_id=CASE_ID, call_id=CALL_ID, outcome=AwardOutcome.FINALIST, weighted_score=1.0),
        [(Template.AWARD_DECIDED, Audience.OPERATORS), (Template.CASE_DECIDED, Audience.ADDRESSED)],
    ),
    EvaluationCompleteV1: (
        EvaluationCompleteV1(call_id=CALL_ID, call_title="Laatukilpailu 2025", cases=2),
        [(Template.EVALUATION_COMPLETE, Audience.OPERATORS)],
    ),
    ResultsPublishedV1: (
        ResultsPublishedV1(case_id=CASE_ID, call_id=CALL_ID, outcome=AwardOutcome.AWARD_WINNER),
        [(Template.RESULTS_PUBLISHED, Audience.EVERYONE)],
    ),
    DeadLetteredV1: (
        DeadLetteredV1(
            service="review",
            dead_letter_id=7,
            source_topic="kipina.intake.v1",
            source_partition=3,
            source_offset=42,
            reason="malformed",
            error="malformed: bad json",
            attempts=0,
        ),
        [(Template.DEAD_LETTERED, Audience.OPERATORS)],
    ),
}


def test_every_consumed_event_has_a_decided_audience() -> None:
    assert set(WHO_HEARS_WHAT) == set(domain.CONSUMED_EVENTS)


@pytest.mark.parametrize("payload_type", sorted(WHO_HEARS_WHAT, key=lambda p: p.event_type), ids=lambda p: p.__name__)
def test_template_and_audience(payload_type: type[EventPayload]) -> None:
    payload, expected = WHO_HEARS_WHAT[payload_type]
    assert [(t.template, t.audience) for t in domain.what_to_tell(payload)] == expected


def test_every_template_is_used_by_some_event() -> None:
    used = {t for _, told in WHO_HEARS_WHAT.values() for t, _ in told}
    assert used == set(Template)


def test_addressed_people_are_told_without_the_cases_directory_from_the_events_own_titles() -> None:
    payload, _ = WHO_HEARS_WHAT[JurorsAssignedV1]
    notices = domain.plan_notices(payload, None, operator_emails=["ops@example.org"])
    assert [(n.recipient.email, n.recipient.user_id, n.recipient.language) for n in notices] == [
        ("jaana@example.org", "juror-1", Language.FI)
    ]
    assert notices[0].context["case_title"] == "Digitaalinen neuvonta"
    assert notices[0].context["case_id"] == str(CASE_ID)
    assert notices[0].context["due_at"] == "2026-11-24 12:00 UTC"


def test_the_cases_people_are_nobody_without_its_directory() -> None:
    payload, _ = WHO_HEARS_WHAT[ChangesRequestedV1]
    assert domain.plan_notices(payload, None, operator_emails=["ops@example.org"]) == []


def test_a_person_without_email_or_user_id_is_nobody() -> None:
    telling = domain.Telling(Template.SCORING_DUE, Audience.ADDRESSED, people=(Person(user_id="x"),))
    assert [p.user_id for p in domain.audience_members(telling, None, operator_emails=[])] == ["x"]
    both = domain.Telling(Template.CHANGES_ANSWERED, Audience.ADDRESSED, people=(REVIEWER, REVIEWER))
    assert len(domain.audience_members(both, None, operator_emails=[])) == 1


def test_a_dead_letter_tells_the_operators_in_a_window_per_service() -> None:
    payload, _ = WHO_HEARS_WHAT[DeadLetteredV1]
    notices = domain.plan_notices(payload, None, operator_emails=["ops@example.org"])
    assert [(n.recipient.email, str(n.template)) for n in notices] == [("ops@example.org", "dead_lettered")]
    assert notices[0].context["source"] == "kipina.intake.v1/3@42"
    at = datetime(2026, 11, 24, 12, 34, 56, tzinfo=UTC)
    assert domain.alert_window(at, minutes=60) == datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert domain.alert_window(at, minutes=15) == datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
    assert domain.alert_window(at.replace(minute=59, second=59), minutes=60) == domain.alert_window(at, minutes=60)


def test_messages_about_a_call_or_the_system_are_about_no_case() -> None:
    assert domain.case_of(WHO_HEARS_WHAT[EvaluationCompleteV1][0]) is None
    assert domain.case_of(WHO_HEARS_WHAT[DeadLetteredV1][0]) is None
    assert domain.case_of(WHO_HEARS_WHAT[CaseSubmittedV1][0]) == CASE_ID
    assert domain.case_of(WHO_HEARS_WHAT[ScoringDueV1][0]) == CASE_ID


def test_nominated_tells_submitter_and_team() -> None:
    assert [e for e, _ in recipients(NOMINATED)] == ["aino@example.org", "bjorn@example.org"]


def test_escalation_goes_to_configured_operators_only() -> None:
    payload = IterationEscalatedV1(case_id=CASE_ID, call_id=CALL_ID, iteration=1, due_at=datetime.now(UTC))
    assert recipients(payload) == []
    assert recipients(payload, ops=["ops@example.org", "OPS@example.org"]) == [
        ("ops@example.org", "iteration_escalated")
    ]


def test_notify_listens_to_every_event_of_intake_review_awards_and_operations_and_none_of_its_own() -> None:
    consumed = {p.event_type for p in domain.CONSUMED_EVENTS}
    assert consumed == {
        t for t, p in EVENT_TYPES.items() if p.topic in (topics.INTAKE, topics.REVIEW, topics.AWARDS, topics.OPERATIONS)
    }
    assert {CaseSubmittedV1, CaseWithdrawnV1, IterationOpenedV1, AwardDecidedV1} <= set(domain.CONSUMED_EVENTS)
    assert not {NotificationDeliveredV1, NotificationFailedV1} & set(domain.CONSUMED_EVENTS)


def test_the_router_handles_every_consumed_event_so_the_topics_follow() -> None:
    router = build_router(NotifySettings())
    assert set(router.payload_types) == set(domain.CONSUMED_EVENTS)
    assert router.topics == sorted([topics.AWARDS, topics.INTAKE, topics.OPERATIONS, topics.REVIEW])


def test_older_snapshot_does_not_replace_newer() -> None:
    assert domain.should_replace_directory(stored_revision=None, incoming_revision=1)
    assert domain.should_replace_directory(stored_revision=2, incoming_revision=3)
    assert not domain.should_replace_directory(stored_revision=3, incoming_revision=2)


def test_webhook_subscription_matching() -> None:
    assert domain.wants_event([], "kipina.case.submitted.v1")
    assert domain.wants_event(["kipina.case.submitted.v1"], "kipina.case.submitted.v1")
    assert not domain.wants_event(["kipina.award.results_published.v1"], "kipina.case.submitted.v1")
    assert domain.unknown_event_types(["kipina.case.submitted.v1", "nope"]) == ["nope"]


@pytest.mark.parametrize("subscribed", [[], ["kipina.award.decided.v1"], sorted(domain.CONSUMED_EVENT_TYPES)])
def test_no_webhook_ever_gets_an_embargoed_event(subscribed: list[str]) -> None:
    assert not domain.wants_event(subscribed, AwardDecidedV1.event_type)
    assert domain.wants_event(subscribed or [], ResultsPublishedV1.event_type) == (
        not subscribed or ResultsPublishedV1.event_type in subscribed
    )


def test_the_embargoed_types_are_the_decision_and_webhooks_may_have_every_other_not_addressed_to_a_person() -> None:
    assert {AwardDecidedV1.event_type} == domain.EMBARGOED_EVENT_TYPES
    addressed = {p.event_type for p in (TaskDueSoonV1, ChangesAnsweredV1, JurorsAssignedV1, ScoringDueV1)}
    assert addressed == domain.ADDRESSED_EVENT_TYPES
    assert domain.CONSUMED_EVENT_TYPES - {AwardDecidedV1.event_type} - addressed == domain.WEBHOOK_EVENT_TYPES
    assert not domain.wants_event([], ScoringDueV1.event_type)
    assert not domain.wants_event([JurorsAssignedV1.event_type], JurorsAssignedV1.event_type)
    assert domain.embargoed_event_types(["kipina.case.submitted.v1", AwardDecidedV1.event_type]) == [
        AwardDecidedV1.event_type
    ]


def test_a_webhook_cannot_subscribe_to_an_embargoed_event() -> None:
    body = {"url": "http://agency.example/h", "secret": "0123456789abcdef"}
    with pytest.raises(
        ValidationError, match=r"kipina\.award\.decided\.v1 is embargoed and never delivered to webhooks"
    ):
        WebhookBody.model_validate({**body, "event_types": ["kipina.case.submitted.v1", AwardDecidedV1.event_type]})
    ok = WebhookBody.model_validate({**body, "event_types": [ResultsPublishedV1.event_type]})
    assert ok.event_types == [ResultsPublishedV1.event_type]


# --------------------------------------------------------------------------- rendering


@pytest.mark.parametrize(
    ("language", "subject_start", "greeting"),
    [
        (Language.FI, "Hakemukseesi pyydetään muutoksia", "Hei Aino"),
        (Language.SV, "Ändringar begärs", "Hej Aino"),
        (Language.EN, "Changes requested", "Hello Aino"),
    ],
)
def test_changes_requested_rendered_in_each_language(language: Language, subject_start: str, greeting: str) -> None:
    payload = ChangesRequestedV1(
        case_id=CASE_ID,
        call_id=CALL_ID,
        iteration=1,
        reviewer_ids=["r"],
        comment="Please quantify the savings.",
        feedback=[FeedbackItem(checklist_item="evidence", met=False, comment="missing numbers")],
    )
    notice = domain.plan_notices(payload, DIRECTORY, operator_emails=[])[0]
    rendered = render(notice.template, language, notice.context)
    assert rendered.subject.startswith(subject_start)
    assert "Digitaalinen neuvonta" in rendered.subject
    assert greeting in rendered.body
    assert "Please quantify the savings." in rendered.body
    assert "- evidence:" in rendered.body and "missing numbers" in rendered.body
    assert "{{" not in rendered.body


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("template", list(Template))
def test_every_template_renders_in_every_language(template: Template, language: Language) -> None:
    context = {
        "case_id": str(CASE_ID),
        "case_title": "Case & Co",
        "call_title": "Call",
        "recipient_name": "Åsa",
        "revision": 1,
        "iteration": 2,
        "comment": "c",
        "feedback": [],
        "from_stage": "concept",
        "to_stage": "validation",
        "outcome": "award_winner",
        "weighted_score": 4.25,
        "rank_in_category": 1,
        "feedback_text": "Great work",
        "due_at": "2025-01-01 00:00 UTC",
        "addressed": 2,
        "open_points": 1,
        "reason": "lease",
        "cases": 3,
        "call_id": str(CALL_ID),
        "service": "review",
        "dead_letter_id": 7,
        "source": "kipina.intake.v1/3@42",
        "event_type_seen": "",
        "error": "boom",
    }
    rendered = render(template, language, context)
    assert rendered.subject and "\n" not in rendered.subject
    assert len(rendered.body) > 40
    text = rendered.subject + rendered.body
    assert "Case & Co" in text or template in (Template.DEAD_LETTERED, Template.EVALUATION_COMPLETE)
    assert "&amp;" not in text  # plain text: no HTML escaping


def test_award_decided_tells_operators_score_rank_and_feedback_and_that_it_is_embargoed() -> None:
    payload = AwardDecidedV1(
        case_id=CASE_ID,
        call_id=CALL_ID,
        outcome=AwardOutcome.HONOURABLE_MENTION,
        weighted_score=3.456,
        rank_in_category=2,
        feedback="Hyvä",
    )
    notice = domain.plan_notices(payload, DIRECTORY, operator_emails=["ops@example.org"])[0]
    en = render(notice.template, Language.EN, notice.context)
    assert "honourable mention" in en.subject and "embargoed" in en.subject
    assert "3.46" in en.body and "Rank in category: 2" in en.body and "Hyvä" in en.body
    assert str(CASE_ID) in en.body
    fi = render(notice.template, Language.FI, notice.context)
    assert "kunniamaininta" in fi.subject


@pytest.mark.parametrize(
    ("language", "subject", "label", "feedback_heading"),
    [
        (Language.FI, "Tulokset on julkaistu: Digitaalinen neuvonta – palkittu", "tulos: palkittu", "Raadin palaute:"),
        (
            Language.SV,
            "Resultaten har publicerats: Digitaalinen neuvonta – pristagare",
            "Resultat för ansökan",
            "Juryns återkoppling:",
        ),
        (
            Language.EN,
            "Results published: Digitaalinen neuvonta – prize winner",
            "Outcome for",
            "The jury's feedback:",
        ),
    ],
)
def test_published_results_are_rendered_in_each_language_without_score_or_rank(
    language: Language, subject: str, label: str, feedback_heading: str
) -> None:
    payload = ResultsPublishedV1(
        case_id=CASE_ID, call_id=CALL_ID, outcome=AwardOutcome.PRIZE_WINNER, feedback="Rohkea ja vaikuttava."
    )
    notice = domain.plan_notices(payload, DIRECTORY, operator_emails=[])[0]
    rendered = render(notice.template, language, notice.context)
    assert rendered.subject == subject
    assert label in rendered.body
    assert f"{feedback_heading}\nRohkea ja vaikuttava." in rendered.body
    assert "{{" not in rendered.body
    # The published result is the outcome and the feedback: the context carries no score or rank to show.
    assert not {"weighted_score", "rank_in_category"} & notice.context.keys()


def test_published_results_without_feedback_leave_out_the_heading() -> None:
    payload = ResultsPublishedV1(case_id=CASE_ID, call_id=CALL_ID, outcome=AwardOutcome.FINALIST)
    notice = domain.plan_notices(payload, DIRECTORY, operator_emails=[])[0]
    assert "palaute" not in render(notice.template, Language.FI, notice.context).body


# --------------------------------------------------------------------------- retries and signatures


def test_backoff_doubles_and_caps() -> None:
    delays = [domain.retry_delay_s(attempts=n, base_s=2.0, max_s=30.0) for n in range(1, 7)]
    assert delays == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_after_failure_retries_until_max_attempts() -> None:
    assert domain.after_failure(attempts=1, max_attempts=3) == DeliveryStatus.PENDING
    assert domain.after_failure(attempts=2, max_attempts=3) == DeliveryStatus.PENDING
    assert domain.after_failure(attempts=3, max_attempts=3) == DeliveryStatus.FAILED


def test_a_permanent_failure_is_final_at_once() -> None:
    assert domain.after_failure(attempts=1, max_attempts=3, permanent=True) == DeliveryStatus.FAILED


def test_webhook_success_is_2xx() -> None:
    assert domain.webhook_succeeded(200) and domain.webhook_succeeded(204)
    assert not domain.webhook_succeeded(301) and not domain.webhook_succeeded(500)


def test_signature_is_hmac_sha256_hex() -> None:
    import hashlib
    import hmac

    body = b'{"a":1}'
    expected = hmac.new(b"0123456789abcdef", body, hashlib.sha256).hexdigest()
    assert sign(body, "0123456789abcdef") == f"sha256={expected}"
