"""Intake's pure rules for submitter actions: fitting a call, idempotent retries, duplicates, revisions."""

from __future__ import annotations

import uuid
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.intake.domain import (
    Call,
    CaseChanges,
    CaseDraft,
    CaseProgress,
    CaseStatus,
    StoredCase,
    TimelineKind,
    TransitionRefused,
    call_window_problem,
    duplicate_title,
    ensure_fits_call,
    ensure_own_organisation,
    ensure_revisable,
    ensure_same_request,
    ensure_title_free,
    ensure_withdrawable,
    first_snapshot,
    oecd_principles_problems,
    request_fingerprint,
    revised_entry,
    revised_snapshot,
    submitted_entry,
    submitter_contact,
    withdrawn_entry,
)
from shared.errors import Conflict, Invalid, Problem
from shared.events import QUALITY_INNOVATION_AWARD_CRITERIA, CaseSnapshot, Contact, Organisation
from shared.vocabulary import Category, IsoStage, Language, OecdPrinciple

NOW = datetime(2025, 5, 1, 12, tzinfo=UTC)


def a_call(**overrides: Any) -> Call:
    call = Call(
        id=uuid.uuid4(),
        title="QIA",
        description="",
        opens_at=NOW - timedelta(days=1),
        closes_at=NOW + timedelta(days=1),
        categories=[Category.PUBLIC_SECTOR, Category.EDUCATION],
        languages=[Language.FI, Language.EN],
        reviewers_per_iteration=1,
        criteria=QUALITY_INNOVATION_AWARD_CRITERIA,
        revision=1,
        created_by="op",
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(call, **overrides)


def a_case(*, submitter_id: str = "alice", fingerprint: str | None = "f1", revision: int = 1) -> StoredCase:
    snapshot = CaseSnapshot(
        case_id=uuid.uuid4(),
        call_id=uuid.uuid4(),
        call_title="QIA",
        revision=revision,
        title="Smart library lending",
        summary="Libraries lend tools.",
        problem="Residents buy tools they use once.",
        solution="A self-service lending app.",
        organisation=Organisation(id="org", name="City of Espoo", business_id="0101263-6"),
        submitter_id=submitter_id,
        submitter=Contact(name="Alice", email="alice@example.org"),
        category=Category.PUBLIC_SECTOR,
        language=Language.FI,
        iso_stage=IsoStage.VALIDATION,
    )
    return StoredCase(
        snapshot=snapshot,
        progress=CaseProgress(status=CaseStatus.SUBMITTED, stage=IsoStage.VALIDATION),
        request_fingerprint=fingerprint,
        created_at=NOW,
        updated_at=NOW,
    )


# --------------------------------------------------------------------------- fitting the call


def test_an_open_call_takes_a_case_in_its_categories_and_languages() -> None:
    ensure_fits_call(a_call(), category=Category.EDUCATION, language=Language.EN, now=NOW)


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (a_call(closes_at=NOW), "call_closed", "closed at"),
        (a_call(opens_at=NOW + timedelta(seconds=1)), "call_closed", "opens at"),
    ],
)
def test_a_closed_call_is_a_conflict(call: Call, error: str, fragment: str) -> None:
    with pytest.raises(Conflict) as refused:
        ensure_fits_call(call, category=Category.EDUCATION, language=Language.FI, now=NOW)
    assert refused.value.error == error
    assert refused.value.message.startswith(f"call {call.id} is closed for submissions")
    assert fragment in refused.value.message


def test_category_and_language_must_be_the_calls() -> None:
    with pytest.raises(Invalid) as refused:
        ensure_fits_call(a_call(), category=Category.HEALTH_CARE, language=Language.FI, now=NOW)
    assert refused.value.error == "category_not_in_call"
    assert refused.value.message == (
        "category 'health_care' is not one of the call's categories (public_sector, education)"
    )
    with pytest.raises(Invalid) as refused:
        ensure_fits_call(a_call(), category=Category.EDUCATION, language=Language.SV, now=NOW)
    assert refused.value.error == "language_not_in_call"
    assert refused.value.message == "language 'sv' is not one of the call's languages (fi, en)"


# --------------------------------------------------------------------------- idempotency and duplicates


def test_a_retry_must_repeat_the_first_request() -> None:
    earlier = a_case(fingerprint="f1")
    ensure_same_request(earlier, fingerprint="f1", key="k")
    with pytest.raises(Conflict) as refused:
        ensure_same_request(earlier, fingerprint="f2", key="k")
    assert refused.value.error == "idempotency_key_reused"
    assert f"'k' was already used for case {earlier.id} with a different request body;" in refused.value.message


def test_a_duplicate_title_names_only_the_callers_own_case() -> None:
    mine = a_case(submitter_id="alice")
    own = duplicate_title(mine, submitter_id="alice")
    assert own.error == "duplicate_case"
    assert str(mine.id) in own.message
    assert own.details == {"existing_case_id": str(mine.id)}

    # A colleague's case (the lookup only finds the organisation's own), or one gone by the second look.
    for other in (mine, None):
        colleagues = duplicate_title(other, submitter_id="bob")
        assert colleagues.error == "duplicate_case"
        assert colleagues.message == "your organisation already has a case with a near-identical title in this call"
        assert colleagues.details == {}


def test_a_case_is_filed_for_the_tokens_organisation_only() -> None:
    ensure_own_organisation(Organisation(id="org-a", name="A", business_id="0101263-6"), token_organisation="org-a")
    with pytest.raises(Invalid) as refused:
        ensure_own_organisation(Organisation(id="org-b", name="A", business_id="0101263-6"), token_organisation="org-a")
    assert refused.value.status_code == 422
    assert refused.value.error == "organisation_not_yours"
    assert refused.value.message == (
        "your token carries organisation 'org-a'; a case is always filed for it, "
        "so organisation.id may not be 'org-b' (leave it out)"
    )
    assert refused.value.problems == [Problem("organisation.id", refused.value.message)]


# --------------------------------------------------------------------------- revisions and withdrawals


def test_transition_refusals_carry_their_error_codes() -> None:
    with pytest.raises(TransitionRefused) as refused:
        ensure_revisable(CaseStatus.SUBMITTED)
    assert isinstance(refused.value, Conflict)
    assert refused.value.error == "not_revisable"
    with pytest.raises(TransitionRefused) as refused:
        ensure_withdrawable(CaseStatus.PUBLISHED)
    assert refused.value.error == "not_withdrawable"


def test_a_revision_overlays_the_changes_and_counts_up() -> None:
    case = a_case(revision=2)
    revised = revised_snapshot(case.snapshot, CaseChanges(title="Tool library", drivers=("demand",)))
    assert revised.revision == 3
    assert revised.title == "Tool library"
    assert revised.drivers == ["demand"]
    assert revised.summary == case.snapshot.summary
    assert case.snapshot.revision == 2  # the current content is left as it was


def test_timeline_entries_of_submitter_actions() -> None:
    submitted = submitted_entry(call_title="QIA")
    assert (submitted.kind, submitted.summary, submitted.details) == (
        TimelineKind.SUBMITTED,
        "Submitted to 'QIA'",
        {"revision": 1},
    )

    revised = revised_entry(revision=2, changed={"title": 1, "problem": 2}, change_note="", iteration=0)
    assert revised.summary == "Revision 2 submitted"
    assert revised.iteration is None
    assert revised.details == {"revision": 2, "changed": ["problem", "title"], "change_note": ""}
    assert revised.kind is TimelineKind.REVISED
    noted = revised_entry(revision=3, changed=[], change_note="numbers added", iteration=2)
    assert (noted.summary, noted.iteration) == ("Revision 3 submitted: numbers added", 2)

    assert withdrawn_entry(reason="").summary == "Withdrawn by the submitter"
    withdrawn = withdrawn_entry(reason="merged")
    assert withdrawn.kind is TimelineKind.WITHDRAWN
    assert (withdrawn.summary, withdrawn.details) == ("Withdrawn by the submitter: merged", {"reason": "merged"})


# --------------------------------------------------------------------------- commands


def a_draft(**overrides: Any) -> CaseDraft:
    draft = CaseDraft(
        call_id=uuid.uuid4(),
        title="Smart library lending",
        summary="Libraries lend tools.",
        problem="Residents buy tools they use once.",
        solution="A self-service lending app.",
        organisation=Organisation(id="org", name="City of Espoo", business_id="0101263-6"),
        category=Category.PUBLIC_SECTOR,
        language=Language.FI,
        oecd_principles=(OecdPrinciple.DIFFUSE_LESSONS, OecdPrinciple.EMBRACE_AND_ENHANCE),
        iso_stage=IsoStage.CONCEPT,
        team=(Contact(name="Eeva", email="eeva@example.org"),),
        drivers=("demand",),
    )
    return replace(draft, **overrides)


def test_each_oecd_principle_may_be_listed_once() -> None:
    assert oecd_principles_problems([OecdPrinciple.EMBRACE_AND_ENHANCE, OecdPrinciple.DIFFUSE_LESSONS]) == []
    assert oecd_principles_problems([]) == []
    repeated = [OecdPrinciple(3), OecdPrinciple(1), OecdPrinciple(3), OecdPrinciple(1), OecdPrinciple(2)]
    assert oecd_principles_problems(repeated) == [
        Problem("oecd_principles", "each OECD principle may be listed only once; repeated: 1, 3")
    ]


def test_a_call_closes_after_it_opens() -> None:
    assert call_window_problem(opens_at=NOW, closes_at=NOW + timedelta(seconds=1)) is None
    for closes_at in (NOW, NOW - timedelta(days=1)):
        assert call_window_problem(opens_at=NOW, closes_at=closes_at) == "closes_at must be after opens_at"


def test_the_fingerprint_is_the_drafts_content() -> None:
    draft = a_draft()
    assert request_fingerprint(draft) == request_fingerprint(replace(draft))
    assert len(request_fingerprint(draft)) == 64
    for change in (
        {"title": "Smart library lending!"},
        {"oecd_principles": (OecdPrinciple.EMBRACE_AND_ENHANCE, OecdPrinciple.DIFFUSE_LESSONS)},  # order counts
        {"team": ()},
        {"organisation": Organisation(id="other", name="City of Espoo", business_id="0101263-6")},
    ):
        assert request_fingerprint(replace(draft, **change)) != request_fingerprint(draft), change


def test_the_submitter_contact_needs_a_valid_email() -> None:
    contact = submitter_contact(user_id="alice", name="", email="alice@example.org", language=Language.SV)
    assert contact == Contact(name="alice", email="alice@example.org", language=Language.SV)
    with pytest.raises(Invalid) as refused:
        submitter_contact(user_id="alice", name="Alice", email="", language=Language.FI)
    assert refused.value.error == "submitter_email_missing"
    with pytest.raises(Invalid) as refused:
        submitter_contact(user_id="alice", name="Alice", email="not-an-email", language=Language.FI)
    assert refused.value.error == "submitter_email_invalid"
    assert "'not-an-email'" in refused.value.message


def test_the_first_snapshot_is_the_draft_in_the_call() -> None:
    call = a_call(reviewers_per_iteration=2)
    draft = a_draft(call_id=call.id)
    case_id = uuid.uuid4()
    submitter = Contact(name="Alice", email="alice@example.org")
    snapshot = first_snapshot(draft, case_id=case_id, call=call, submitter_id="alice", submitter=submitter)
    assert snapshot.model_dump() == {
        "case_id": case_id,
        "call_id": call.id,
        "call_title": "QIA",
        "revision": 1,
        "reviewers_per_iteration": 2,
        "title": draft.title,
        "summary": draft.summary,
        "problem": draft.problem,
        "solution": draft.solution,
        "organisation": draft.organisation.model_dump(),
        "submitter_id": "alice",
        "submitter": submitter.model_dump(),
        "team": [c.model_dump() for c in draft.team],
        "partners": [],
        "category": Category.PUBLIC_SECTOR,
        "language": Language.FI,
        "oecd_principles": [5, 1],
        "iso_stage": IsoStage.CONCEPT,
        "drivers": ["demand"],
        "obstacles": [],
    }
    assert all(type(p) is int for p in snapshot.oecd_principles)


def test_a_revision_edits_only_what_it_names() -> None:
    assert CaseChanges().edited() == {}
    team = (Contact(name="Ville", email="ville@example.org"),)
    changes = CaseChanges(team=team, oecd_principles=(OecdPrinciple.SUPPORT_EXPLORATION,), obstacles=())
    assert changes.edited() == {"team": team, "oecd_principles": (OecdPrinciple.SUPPORT_EXPLORATION,), "obstacles": ()}

    case = a_case()
    revised = revised_snapshot(case.snapshot, changes)
    assert revised.team == list(team)
    assert revised.oecd_principles == [4]
    assert revised.obstacles == []  # an empty list is an edit: it clears the field
    assert revised.model_dump(exclude={"team", "oecd_principles", "obstacles", "revision"}) == (
        case.snapshot.model_dump(exclude={"team", "oecd_principles", "obstacles", "revision"})
    )


def test_a_revision_cannot_name_another_organisation() -> None:
    assert "organisation" not in {f.name for f in fields(CaseChanges)}
    case = a_case()
    with pytest.raises(TypeError):
        CaseChanges(organisation=Organisation(id="org-b", name="B", business_id="0101263-6"))  # type: ignore[call-arg]
    assert revised_snapshot(case.snapshot, CaseChanges(title="Tool library")).organisation == case.snapshot.organisation


def test_a_free_title_passes_and_a_taken_one_is_refused() -> None:
    ensure_title_free(None, submitter_id="alice")
    mine = a_case(submitter_id="alice")
    with pytest.raises(Conflict) as refused:
        ensure_title_free(mine, submitter_id="alice")
    assert refused.value.details == {"existing_case_id": str(mine.id)}
    with pytest.raises(Conflict) as refused:
        ensure_title_free(mine, submitter_id="bob")
    assert refused.value.details == {}
