"""submit_case on a fake unit of work: idempotent retries, the retry race, duplicate titles and call refusals.

The fake repository keeps intake's tables in memory and enforces the two unique indexes of the migrations
(one Idempotency-Key per submitter, one live case per normalised title of an organisation in a call). A test may have a
concurrent request commit just before one of the use case's steps, which is how the races are staged.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.intake import workflow
from services.intake.domain import (
    Call,
    CaseDraft,
    CaseProgress,
    CaseStatus,
    StoredCase,
    TimelineEntry,
    TimelineItem,
    title_key,
)
from services.intake.repository import DuplicateIdempotencyKey, DuplicateTitle, IntakeRepository
from shared.auth import Principal
from shared.errors import Conflict, Invalid
from shared.events import (
    QUALITY_INNOVATION_AWARD_CRITERIA,
    CaseRevisedV1,
    CaseSnapshot,
    CaseSubmittedV1,
    CaseWithdrawnV1,
    Contact,
    Organisation,
)
from shared.vocabulary import Category, IsoStage, Language, OecdPrinciple, Role
from tests.support.fakes import FakeUnitOfWork

NOW = datetime.now(UTC)

ALICE = Principal(
    user_id="alice",
    roles=frozenset({Role.SUBMITTER}),
    organisation_id="org-espoo",
    name="Alice Aalto",
    email="alice@example.org",
)
# Alice's colleague: the same organisation.
CARLA = Principal(
    user_id="carla", roles=frozenset({Role.SUBMITTER}), organisation_id="org-espoo", name="Carla", email="c@example.org"
)
# Another organisation.
BOB = Principal(
    user_id="bob", roles=frozenset({Role.SUBMITTER}), organisation_id="org-vantaa", name="Bob", email="bob@example.org"
)

Concurrently = Callable[[], Awaitable[None]]


class FakeIntakeRepository(IntakeRepository):
    """Intake's tables in memory, for the methods submit_case uses."""

    def __init__(self) -> None:  # no connection: the state is these collections
        self.calls: dict[uuid.UUID, Call] = {}
        self.cases: dict[uuid.UUID, StoredCase] = {}
        self.title_keys: dict[uuid.UUID, str] = {}
        self.idempotency_keys: dict[tuple[str, str], uuid.UUID] = {}
        self.timelines: dict[uuid.UUID, list[TimelineItem]] = defaultdict(list)
        # The unique index PostgreSQL happens to check first when a row breaks both.
        self.title_index_first = False
        # Work a concurrent request commits just before the named method runs (once).
        self.concurrently: dict[str, Concurrently] = {}

    async def _interleave(self, method: str) -> None:
        other = self.concurrently.pop(method, None)
        if other is not None:
            await other()

    async def get_call(self, call_id: uuid.UUID, *, for_update: bool = False) -> Call | None:
        await self._interleave("get_call")
        return self.calls.get(call_id)

    async def find_by_idempotency_key(self, *, submitter_id: str, key: str) -> StoredCase | None:
        await self._interleave("find_by_idempotency_key")
        case_id = self.idempotency_keys.get((submitter_id, key))
        return self.cases[case_id] if case_id is not None else None

    async def find_by_title(
        self, *, call_id: uuid.UUID, organisation_id: str, title_key: str, excluding: uuid.UUID | None = None
    ) -> StoredCase | None:
        await self._interleave("find_by_title")
        return next(
            (
                case
                for case in self.cases.values()
                if case.snapshot.call_id == call_id
                and case.snapshot.organisation.id == organisation_id
                and self.title_keys[case.id] == title_key
                and case.progress.status is not CaseStatus.WITHDRAWN
                and case.id != excluding
            ),
            None,
        )

    async def insert_case(
        self,
        *,
        snapshot: CaseSnapshot,
        title_key: str,
        progress: CaseProgress,
        entry: TimelineEntry,
        idempotency_key: str | None,
        request_fingerprint: str | None,
    ) -> StoredCase:
        await self._interleave("insert_case")
        key_taken = idempotency_key is not None and (snapshot.submitter_id, idempotency_key) in self.idempotency_keys
        title_taken = any(
            c.snapshot.call_id == snapshot.call_id
            and c.snapshot.organisation.id == snapshot.organisation.id
            and self.title_keys[c.id] == title_key
            and c.progress.status is not CaseStatus.WITHDRAWN
            for c in self.cases.values()
        )
        if title_taken and (self.title_index_first or not key_taken):
            raise DuplicateTitle
        if key_taken:
            raise DuplicateIdempotencyKey
        case = StoredCase(
            snapshot=snapshot,
            progress=progress,
            request_fingerprint=request_fingerprint,
            created_at=NOW,
            updated_at=NOW,
        )
        self.cases[case.id] = case
        self.title_keys[case.id] = title_key
        if idempotency_key is not None:
            self.idempotency_keys[(snapshot.submitter_id, idempotency_key)] = case.id
        # The first timeline entry goes in with the case.
        await self.add_timeline_entry(case_id=case.id, entry=entry, at=case.created_at)
        return case

    async def add_timeline_entry(
        self,
        *,
        case_id: uuid.UUID,
        entry: TimelineEntry,
        at: datetime | None = None,
        event_id: uuid.UUID | None = None,
    ) -> None:
        self.timelines[case_id].append(
            TimelineItem(
                at=at or NOW, kind=entry.kind, summary=entry.summary, iteration=entry.iteration, details=entry.details
            )
        )

    async def timeline(self, case_id: uuid.UUID) -> list[TimelineItem]:
        return list(self.timelines[case_id])


# --------------------------------------------------------------------------- fixtures


def new_uow(repo: FakeIntakeRepository) -> FakeUnitOfWork[IntakeRepository]:
    return FakeUnitOfWork(
        repo, service="intake", publishes=[CaseSubmittedV1, CaseRevisedV1, CaseWithdrawnV1], correlation_id="corr-1"
    )


def a_call(**overrides: Any) -> Call:
    call = Call(
        id=uuid.uuid4(),
        title="Quality Innovation Award",
        description="",
        opens_at=NOW - timedelta(days=1),
        closes_at=NOW + timedelta(days=30),
        categories=[Category.PUBLIC_SECTOR, Category.EDUCATION],
        languages=[Language.FI, Language.EN],
        reviewers_per_iteration=2,
        criteria=QUALITY_INNOVATION_AWARD_CRITERIA,
        revision=1,
        created_by="op-1",
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(call, **overrides)


def a_draft(call: Call, of: Principal = ALICE, **overrides: Any) -> CaseDraft:
    """A submission as the API makes it for ``of``: their token's organisation, with their body's name."""
    draft = CaseDraft(
        call_id=call.id,
        title="Smart Library Lending",
        summary="Libraries lend tools and equipment through a self-service app.",
        problem="Residents buy tools they use once; libraries lack a way to lend them.",
        solution="A self-service lending app with smart lockers in every branch library.",
        organisation=Organisation(id=of.organisation_id, name="City of Espoo", business_id="0101263-6"),
        category=Category.PUBLIC_SECTOR,
        language=Language.FI,
        oecd_principles=(OecdPrinciple.EMBRACE_AND_ENHANCE, OecdPrinciple.CULTIVATE_PARTNERSHIPS),
        iso_stage=IsoStage.VALIDATION,
        team=(Contact(name="Eeva Esimerkki", email="eeva@example.org", language=Language.FI, role="lead"),),
        drivers=("customer needs",),
    )
    return replace(draft, **overrides)


@pytest.fixture
def repo() -> FakeIntakeRepository:
    return FakeIntakeRepository()


@pytest.fixture
def call(repo: FakeIntakeRepository) -> Call:
    call = a_call()
    repo.calls[call.id] = call
    return call


async def submit(
    repo: FakeIntakeRepository,
    draft: CaseDraft,
    *,
    submitter: Principal = ALICE,
    key: str | None = None,
    uow: FakeUnitOfWork[IntakeRepository] | None = None,
) -> workflow.Submission:
    return await workflow.submit_case(uow=uow or new_uow(repo), draft=draft, submitter=submitter, idempotency_key=key)


def assert_untouched(uow: FakeUnitOfWork[IntakeRepository]) -> None:
    assert uow.emitted == []
    assert uow.events == []
    assert uow.commits == 0


# --------------------------------------------------------------------------- a first submission


async def test_a_first_submission_commits_one_case_one_timeline_entry_and_one_event(
    repo: FakeIntakeRepository, call: Call
) -> None:
    uow = new_uow(repo)
    draft = a_draft(call)
    submission = await submit(repo, draft, key="k-1", uow=uow)

    assert submission.replayed is False
    case = submission.detail.case
    assert list(repo.cases) == [case.id]
    assert repo.title_keys[case.id] == title_key(draft.title)
    assert case.progress == CaseProgress(status=CaseStatus.SUBMITTED, stage=IsoStage.VALIDATION)
    assert [(t.kind, t.summary) for t in repo.timelines[case.id]] == [
        ("submitted", "Submitted to 'Quality Innovation Award'")
    ]
    assert submission.detail.timeline == repo.timelines[case.id]

    assert uow.commits == 1
    assert uow.events == [CaseSubmittedV1(case=case.snapshot)]
    (event,) = uow.emitted
    assert (event.subject, event.correlationid, event.source) == (str(case.id), "corr-1", "/kipina/intake")

    snapshot = case.snapshot
    assert (snapshot.revision, snapshot.call_title, snapshot.reviewers_per_iteration) == (
        1,
        call.title,
        call.reviewers_per_iteration,
    )
    assert snapshot.submitter_id == "alice"
    assert snapshot.submitter == Contact(name="Alice Aalto", email="alice@example.org", language=Language.EN)
    assert snapshot.oecd_principles == [1, 3]
    assert snapshot.team == list(draft.team)


async def test_a_submitter_without_an_email_is_refused_before_anything_is_written(
    repo: FakeIntakeRepository, call: Call
) -> None:
    uow = new_uow(repo)
    with pytest.raises(Invalid) as refused:
        await submit(repo, a_draft(call), submitter=ALICE.model_copy(update={"email": ""}), uow=uow)
    assert refused.value.error == "submitter_email_missing"
    assert_untouched(uow)
    assert repo.cases == {}


@pytest.mark.parametrize("named", ["org-vantaa", "ORG-ESPOO", "org-espoo "])
async def test_a_body_naming_another_organisation_is_refused_before_anything_is_written(
    repo: FakeIntakeRepository, call: Call, named: str
) -> None:
    """The case's organisation is the token's: the conflict-of-interest rules of review and awards rely on it."""
    claimed = Organisation(id=named, name="City of Vantaa", business_id="0124610-9")
    uow = new_uow(repo)
    with pytest.raises(Invalid) as refused:
        await submit(repo, a_draft(call, organisation=claimed), key="k-1", uow=uow)

    assert refused.value.status_code == 422
    assert refused.value.error == "organisation_not_yours"
    assert "your token carries organisation 'org-espoo'" in refused.value.message
    assert repr(named) in refused.value.message
    assert_untouched(uow)
    assert repo.cases == {}


async def test_the_case_and_its_event_carry_the_tokens_organisation(repo: FakeIntakeRepository, call: Call) -> None:
    uow = new_uow(repo)
    submission = await submit(repo, a_draft(call), submitter=CARLA, uow=uow)
    assert submission.detail.case.snapshot.organisation.id == CARLA.organisation_id
    (event,) = uow.events
    assert isinstance(event, CaseSubmittedV1)
    assert event.case.organisation.id == CARLA.organisation_id


# --------------------------------------------------------------------------- idempotent retries


async def test_a_retry_with_the_same_key_and_body_returns_the_original(repo: FakeIntakeRepository, call: Call) -> None:
    first = await submit(repo, a_draft(call), key="k-1")

    retry_uow = new_uow(repo)
    retry = await submit(repo, a_draft(call), key="k-1", uow=retry_uow)

    assert retry.replayed is True
    assert retry.detail == first.detail
    assert_untouched(retry_uow)
    assert len(repo.cases) == 1


async def test_the_same_key_with_another_body_is_refused(repo: FakeIntakeRepository, call: Call) -> None:
    first = await submit(repo, a_draft(call), key="k-1")

    uow = new_uow(repo)
    with pytest.raises(Conflict) as refused:
        await submit(repo, a_draft(call, title="Another idea entirely"), key="k-1", uow=uow)

    assert refused.value.status_code == 409
    assert refused.value.error == "idempotency_key_reused"
    assert str(first.detail.case.id) in refused.value.message
    assert_untouched(uow)
    assert len(repo.cases) == 1


async def test_another_submitters_key_is_theirs_alone(repo: FakeIntakeRepository, call: Call) -> None:
    await submit(repo, a_draft(call), key="k-1")
    theirs = await submit(repo, a_draft(call, BOB, title="Bob's own idea"), submitter=BOB, key="k-1")
    assert theirs.replayed is False
    assert len(repo.cases) == 2


@pytest.mark.parametrize(
    ("step", "title_index_first"),
    [
        # The insert hits the Idempotency-Key index (DuplicateIdempotencyKey).
        ("insert_case", False),
        # The insert hits the title index first (DuplicateTitle): the retry carries the same title.
        ("insert_case", True),
        # The retry committed while the call was read, before the insert (there is no title look-up before it: the
        # title index refuses), which then meets the original's key.
        ("get_call", False),
    ],
)
async def test_a_retry_that_loses_the_race_to_a_concurrent_retry_is_answered_as_a_replay(
    repo: FakeIntakeRepository, call: Call, step: str, title_index_first: bool
) -> None:
    """Both requests find the key unused at their first look; the other one commits first."""
    repo.title_index_first = title_index_first
    draft = a_draft(call)
    winner_uow = new_uow(repo)
    won: list[workflow.Submission] = []

    async def concurrent_retry() -> None:
        won.append(await submit(repo, draft, key="k-1", uow=winner_uow))

    repo.concurrently[step] = concurrent_retry
    loser_uow = new_uow(repo)
    lost = await submit(repo, draft, key="k-1", uow=loser_uow)

    assert repo.concurrently == {}, "the race was not staged"
    (original,) = won
    assert original.replayed is False
    assert lost.replayed is True
    assert lost.detail == original.detail
    assert_untouched(loser_uow)
    assert loser_uow.rollbacks == 1
    # One case, one timeline entry, one event: the winner's, committed once.
    assert list(repo.cases) == [original.detail.case.id]
    assert len(repo.timelines[original.detail.case.id]) == 1
    assert winner_uow.commits == 1
    assert winner_uow.events == [CaseSubmittedV1(case=original.detail.case.snapshot)]


# --------------------------------------------------------------------------- duplicate titles


async def test_a_title_taken_by_a_colleague_is_refused_without_naming_their_case(
    repo: FakeIntakeRepository, call: Call
) -> None:
    theirs = await submit(repo, a_draft(call, CARLA, title="Smart Library Lending"), submitter=CARLA)

    uow = new_uow(repo)
    with pytest.raises(Conflict) as refused:
        await submit(repo, a_draft(call, title="  smart library-lending! "), key="k-1", uow=uow)

    assert refused.value.status_code == 409
    assert refused.value.error == "duplicate_case"
    assert refused.value.message == "your organisation already has a case with a near-identical title in this call"
    assert str(theirs.detail.case.id) not in refused.value.message
    assert refused.value.details == {}
    assert_untouched(uow)
    assert len(repo.cases) == 1


async def test_another_organisation_may_use_the_same_title(repo: FakeIntakeRepository, call: Call) -> None:
    """Titles are compared within one organisation: another's is neither refused nor revealed."""
    await submit(repo, a_draft(call, BOB, title="Smart Library Lending"), submitter=BOB)

    mine = await submit(repo, a_draft(call, title="SMART LIBRARY LENDING!"))

    assert mine.replayed is False
    assert mine.detail.case.snapshot.organisation.id == "org-espoo"
    assert len(repo.cases) == 2


async def test_the_submitters_own_near_identical_title_is_refused_naming_their_case(
    repo: FakeIntakeRepository, call: Call
) -> None:
    mine = await submit(repo, a_draft(call, title="Smart Library Lending"))

    uow = new_uow(repo)
    with pytest.raises(Conflict) as refused:
        await submit(repo, a_draft(call, title="SMART LIBRARY LENDING"), uow=uow)

    case_id = str(mine.detail.case.id)
    assert refused.value.error == "duplicate_case"
    assert case_id in refused.value.message
    assert refused.value.details == {"existing_case_id": case_id}
    assert_untouched(uow)


@pytest.mark.parametrize(("first", "named"), [(CARLA, False), (ALICE, True)])
async def test_a_title_lost_at_the_index_is_refused_as_the_check_would(
    repo: FakeIntakeRepository, call: Call, first: Principal, named: bool
) -> None:
    """The other case commits after the title check passed: the index refuses, and the answer is the same."""
    won: list[workflow.Submission] = []

    async def concurrent_submission() -> None:
        won.append(await submit(repo, a_draft(call, first, title="Smart library lending"), submitter=first))

    repo.concurrently["insert_case"] = concurrent_submission
    uow = new_uow(repo)
    with pytest.raises(Conflict) as refused:
        await submit(repo, a_draft(call, title="Smart Library Lending!"), key="k-2", uow=uow)

    assert refused.value.error == "duplicate_case"
    assert isinstance(refused.value.__cause__, DuplicateTitle)
    assert (str(won[0].detail.case.id) in refused.value.message) is named
    assert_untouched(uow)
    assert len(repo.cases) == 1


async def test_another_organisations_concurrent_submission_of_the_title_is_no_clash(
    repo: FakeIntakeRepository, call: Call
) -> None:
    won: list[workflow.Submission] = []

    async def concurrent_submission() -> None:
        won.append(await submit(repo, a_draft(call, BOB, title="Smart library lending"), submitter=BOB))

    repo.concurrently["insert_case"] = concurrent_submission
    mine = await submit(repo, a_draft(call, title="Smart Library Lending!"))

    assert repo.concurrently == {}, "the race was not staged"
    assert mine.replayed is False and won[0].replayed is False
    assert len(repo.cases) == 2


async def test_a_withdrawn_case_frees_its_title(repo: FakeIntakeRepository, call: Call) -> None:
    earlier = await submit(repo, a_draft(call))
    case = earlier.detail.case
    repo.cases[case.id] = replace(case, progress=replace(case.progress, status=CaseStatus.WITHDRAWN))

    again = await submit(repo, a_draft(call))
    assert again.replayed is False
    assert len(repo.cases) == 2


# --------------------------------------------------------------------------- the call


async def test_an_unknown_call_is_refused(repo: FakeIntakeRepository) -> None:
    missing = a_call()
    uow = new_uow(repo)
    with pytest.raises(Invalid) as refused:
        await submit(repo, a_draft(missing), uow=uow)
    assert refused.value.status_code == 422
    assert refused.value.error == "unknown_call"
    assert refused.value.message == f"call {missing.id} does not exist"
    assert_untouched(uow)


async def test_a_closed_call_is_refused(repo: FakeIntakeRepository) -> None:
    closed = a_call(opens_at=NOW - timedelta(days=10), closes_at=NOW - timedelta(days=1))
    repo.calls[closed.id] = closed
    uow = new_uow(repo)
    with pytest.raises(Conflict) as refused:
        await submit(repo, a_draft(closed), uow=uow)
    assert refused.value.status_code == 409
    assert refused.value.error == "call_closed"
    assert refused.value.message.startswith(f"call {closed.id} is closed for submissions (closed at ")
    assert_untouched(uow)
    assert repo.cases == {}


async def test_a_case_outside_the_calls_categories_is_refused(repo: FakeIntakeRepository, call: Call) -> None:
    uow = new_uow(repo)
    with pytest.raises(Invalid) as refused:
        await submit(repo, a_draft(call, category=Category.HEALTH_CARE), uow=uow)
    assert refused.value.error == "category_not_in_call"
    assert_untouched(uow)
