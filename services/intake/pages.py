"""The submitter's workbench: open calls, the submission form, my cases, revise and withdraw (role submitter).

A thin adapter beside api.py: each route reads the form, builds the API's own request body (schemas.py) so
the field messages are the API's, and calls the same use case of workflow.py. Refusals (``shared.errors``)
become the form again with the message at its field (422/409) or a message page (404), never a 500.
Forms POST with CSRF and answer 303 (post/redirect/get). See docs/pages.md, "The submitter's workbench".
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from services.intake import domain, workflow
from services.intake.api import _case_draft, _revision
from services.intake.domain import CaseStatus, TimelineItem, TimelineKind
from services.intake.repository import IntakeRepository
from services.intake.schemas import CaseIn, RevisionIn, WithdrawIn
from services.intake.throttling import SubmissionLimits, submission_limits
from shared.errors import Conflict, Invalid, NotFound, Refused, TooManyRequests
from shared.feedback import PointStatus
from shared.http import unit_of_work
from shared.uow import UnitOfWork
from shared.vocabulary import Category, IsoStage, Language, OecdPrinciple, Role
from shared.web.forms import Problems, field_problems, nearest_input
from shared.web.i18n import Translator
from shared.web.pages import Page, checked_form, page_for, page_router

PREFIX = "/submitter"
TEMPLATES = "intake"  # services/intake/templates/pages/, named "<service>/<name>" (shared/web/pages.py)
# Team members and partners the form offers rows for (the API takes up to 20 of each; more are added by a
# revision through the API). A row left empty is no one.
TEAM_ROWS = 3
PARTNER_ROWS = 2
CONTACT_PARTS = ("name", "email", "role")
LISTED = 50

Uow = Annotated[UnitOfWork[IntakeRepository], Depends(unit_of_work(IntakeRepository))]
submitter_page = page_for(Role.SUBMITTER)

# The inputs of the submission form, by the API body's field path; a problem is shown at the longest of
# these its path starts with (oecd_principles.0 → oecd_principles), else above the form (case_input).
CASE_FIELDS = (
    "title",
    "summary",
    "problem",
    "solution",
    "organisation.name",
    "organisation.business_id",
    "organisation.id",
    *(f"team.{i}.{part}" for i in range(TEAM_ROWS) for part in CONTACT_PARTS),
    *(f"partners.{i}.{part}" for i in range(PARTNER_ROWS) for part in CONTACT_PARTS),
    "category",
    "language",
    "oecd_principles",
    "iso_stage",
    "drivers",
    "obstacles",
)
REVISION_FIELDS = ("title", "summary", "problem", "solution", "change_note", "addresses")


def _all_values(body: bytes) -> dict[str, list[str]]:
    """Every value of each field (checkbox groups send one per box); ``checked_form`` keeps only the first."""
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _filled_rows(form: Mapping[str, str], group: str, rows: int) -> list[int]:
    """The rows of a group of contact rows (``team.0.name`` …) with anything typed in them."""
    return [i for i in range(rows) if any(form.get(f"{group}.{i}.{part}", "").strip() for part in CONTACT_PARTS)]


def _contacts(form: Mapping[str, str], group: str, rows: int, *, language: str) -> list[dict[str, Any]]:
    """The filled rows of a group of contact rows as the API's ContactIn, in the case's language."""
    contacts = []
    for i in _filled_rows(form, group, rows):
        row = {part: form.get(f"{group}.{i}.{part}", "").strip() for part in CONTACT_PARTS}
        contacts.append({**row, "role": row["role"] or None, "language": language})
    return contacts


def case_input(form: Mapping[str, str]) -> Callable[[str], str]:
    """Where the submission form shows a message about an API path (``shared.web.forms.field_problems``): the
    body's n-th team member or partner is the form's n-th filled row of them (empty rows are left out); then the
    longest input the path starts with (``oecd_principles.0`` → ``oecd_principles``), else above the form."""
    filled = {"team": _filled_rows(form, "team", TEAM_ROWS), "partners": _filled_rows(form, "partners", PARTNER_ROWS)}
    nearest = nearest_input(CASE_FIELDS)

    def where(path: str) -> str:
        group, _, rest = path.partition(".")
        index, _, part = rest.partition(".")
        if group in filled and index.isdigit() and int(index) < len(filled[group]):
            path = f"{group}.{filled[group][int(index)]}" + (f".{part}" if part else "")
        return nearest(path)

    return where


def case_body(form: dict[str, str], values: dict[str, list[str]], *, call_id: uuid.UUID) -> dict[str, Any]:
    """The submission form as the API's request body (CaseIn), in JSON's own types."""
    language = form.get("language", "")
    principles = [int(v) if v.isdigit() else v for v in values.get("oecd_principles", [])]
    return {
        "call_id": str(call_id),
        "title": form.get("title", ""),
        "summary": form.get("summary", ""),
        "problem": form.get("problem", ""),
        "solution": form.get("solution", ""),
        "organisation": {
            "name": form.get("organisation.name", ""),
            "business_id": form.get("organisation.business_id", ""),
        },
        "team": _contacts(form, "team", TEAM_ROWS, language=language),
        "partners": _contacts(form, "partners", PARTNER_ROWS, language=language),
        "category": form.get("category", ""),
        "language": language,
        "oecd_principles": principles,
        "iso_stage": form.get("iso_stage", ""),
        "drivers": _lines(form.get("drivers", "")),
        "obstacles": _lines(form.get("obstacles", "")),
    }


def revision_body(form: dict[str, str], values: dict[str, list[str]]) -> dict[str, Any]:
    """The revision form as the API's RevisionIn: the texts changed (an unchanged one is left out), the note and
    the feedback points ticked."""
    body: dict[str, Any] = {
        "change_note": form.get("change_note", ""),
        "addresses": values.get("addresses", []),
    }
    for name in ("title", "summary", "problem", "solution"):
        if form.get(name, "").strip() and form.get(name) != form.get(f"was.{name}"):
            body[name] = form[name]
    return body


def _note(text: object) -> str:
    """A person's own words after an entry's text (a reason, a change note, reviewers' reasons), or nothing."""
    return f": {text}" if text else ""


# What each kind of timeline entry's words ("timeline.<kind>", shared/web/i18n.py) are filled with: its iteration
# and details, a code among them in the page's language, a person's own words as they wrote them.
def _timeline_values(t: Translator, item: TimelineItem) -> dict[str, object]:
    d = item.details
    match item.kind:
        case TimelineKind.REVISED:
            return {"revision": d["revision"], "note": _note(d.get("change_note"))}
        case TimelineKind.WITHDRAWN:
            return {"note": _note(d.get("reason"))}
        case TimelineKind.ITERATION_OPENED:
            return {"iteration": item.iteration, "stage": t.label("iso_stage", d["stage"]), "revision": d["revision"]}
        case TimelineKind.CHANGES_REQUESTED | TimelineKind.REJECTED:
            return {"iteration": item.iteration, "note": _note(d.get("comment"))}
        case TimelineKind.STAGE_ADVANCED:
            return {
                "from_stage": t.label("iso_stage", d["from_stage"]),
                "to_stage": t.label("iso_stage", d["to_stage"]),
            }
        case TimelineKind.ESCALATED:
            return {"iteration": item.iteration}
        case TimelineKind.EVALUATION_OPENED:
            return {"criteria": len(d["criteria"])}
        case TimelineKind.DECIDED | TimelineKind.RESULTS_PUBLISHED:
            return {"outcome": t.label("outcome", d["outcome"])}
        case _:
            return {}


def timeline_text(t: Translator, item: TimelineItem) -> str:
    """A timeline entry in the page's language, made from its kind and details; the API's own (English) summary
    for a kind without words or an entry recorded without a detail its words need."""
    try:
        return t(f"timeline.{item.kind}", **_timeline_values(t, item))
    except KeyError:
        return item.summary


def _choices(page: Page) -> dict[str, Any]:
    return {
        "categories": list(Category),
        "languages": list(Language),
        "principles": list(OecdPrinciple),
        "stages": list(IsoStage),
        "team_rows": range(TEAM_ROWS),
        "partner_rows": range(PARTNER_ROWS),
    }


async def _render_form(
    page: Page,
    uow: Uow,
    call_id: uuid.UUID,
    *,
    form: dict[str, str],
    values: dict[str, list[str]],
    problems: Problems,
    status_code: int = 200,
) -> Response:
    call = await workflow.get_call(uow=uow, call_id=call_id)
    return page.render(
        f"{TEMPLATES}/submit.html.j2",
        status_code=status_code,
        call=call,
        form=form,
        values=values,
        problems=problems,
        **_choices(page),
    )


def _not_found(page: Page, exc: Refused) -> Response:
    return page.refused(exc, back=f"{PREFIX}/cases", back_words="sub.my_cases")


async def _render_case(
    page: Page,
    uow: Uow,
    case_id: uuid.UUID,
    *,
    form: dict[str, str] | None = None,
    problems: Problems | None = None,
    status_code: int = 200,
) -> Response:
    assert page.principal is not None
    detail = await workflow.get_case(uow=uow, case_id=case_id, viewer=page.principal)
    points = await workflow.case_feedback(uow=uow, case_id=case_id, viewer=page.principal)
    case = detail.case
    return page.render(
        f"{TEMPLATES}/case.html.j2",
        status_code=status_code,
        case=case,
        s=case.snapshot,
        progress=case.progress,
        timeline=[(item, timeline_text(page.t, item)) for item in reversed(detail.timeline)],
        points=points,
        open_points=[p for p in points if p.state.status is PointStatus.OPEN],
        revisable=case.progress.status is CaseStatus.CHANGES_REQUESTED,
        withdrawable=case.progress.status not in domain.FINAL_STATUSES,
        form=form or {},
        problems=problems or {},
        done=page.request.query_params.get("done", ""),
    )


def submitter_pages_router() -> APIRouter:
    router = page_router(prefix=PREFIX)

    @router.get("/calls", response_class=HTMLResponse)
    async def open_calls(uow: Uow, page: Page = Depends(submitter_page)) -> Response:
        calls, _ = await workflow.list_calls(uow=uow, open_now=True, limit=LISTED, offset=0)
        return page.render(f"{TEMPLATES}/calls.html.j2", calls=calls)

    @router.get("/calls/{call_id}/submit", response_class=HTMLResponse)
    async def submission_form(call_id: uuid.UUID, uow: Uow, page: Page = Depends(submitter_page)) -> Response:
        try:
            return await _render_form(page, uow, call_id, form={"language": str(page.language)}, values={}, problems={})
        except NotFound as exc:
            return _not_found(page, exc)

    @router.post("/calls/{call_id}/submit", response_class=HTMLResponse)
    async def submit(
        request: Request,
        call_id: uuid.UUID,
        uow: Uow,
        page: Page = Depends(submitter_page),
        limits: SubmissionLimits = Depends(submission_limits),
    ) -> Response:
        assert page.principal is not None
        form = await checked_form(request, page)
        values = _all_values(await request.body())
        try:  # the API's limits: a form is a submission too
            await limits.admit_request(request, submitter_id=page.principal.user_id)
        except TooManyRequests as exc:
            problems = field_problems(exc, case_input(form))
            shown = await _render_form(page, uow, call_id, form=form, values=values, problems=problems, status_code=429)
            shown.headers["Retry-After"] = str(exc.retry_after_s)
            return shown
        try:
            body = CaseIn.model_validate(case_body(form, values, call_id=call_id))
        except ValidationError as exc:
            problems = field_problems(exc, case_input(form))
            return await _render_form(page, uow, call_id, form=form, values=values, problems=problems, status_code=422)
        try:
            submission = await workflow.submit_case(
                uow=uow,
                draft=_case_draft(body, submitter=page.principal),
                submitter=page.principal,
                idempotency_key=None,
            )
        except (Invalid, Conflict) as exc:
            problems = field_problems(exc, case_input(form))
            return await _render_form(
                page, uow, call_id, form=form, values=values, problems=problems, status_code=exc.status_code
            )
        except NotFound as exc:
            return _not_found(page, exc)
        case_id = submission.detail.case.id
        return page.keep_cookies(RedirectResponse(f"{PREFIX}/cases/{case_id}?done=submitted", status_code=303))

    @router.get("/cases", response_class=HTMLResponse)
    async def my_cases(uow: Uow, page: Page = Depends(submitter_page)) -> Response:
        assert page.principal is not None
        cases, total = await workflow.list_cases(
            uow=uow, viewer=page.principal, call_id=None, status=None, limit=LISTED, offset=0
        )
        return page.render(f"{TEMPLATES}/cases.html.j2", cases=cases, total=total)

    @router.get("/cases/{case_id}", response_class=HTMLResponse)
    async def my_case(case_id: uuid.UUID, uow: Uow, page: Page = Depends(submitter_page)) -> Response:
        try:
            return await _render_case(page, uow, case_id)
        except NotFound as exc:
            return _not_found(page, exc)

    @router.post("/cases/{case_id}/revise", response_class=HTMLResponse)
    async def revise(request: Request, case_id: uuid.UUID, uow: Uow, page: Page = Depends(submitter_page)) -> Response:
        assert page.principal is not None
        form = await checked_form(request, page)
        values = _all_values(await request.body())
        try:
            try:
                body = RevisionIn.model_validate(revision_body(form, values))
            except ValidationError as exc:
                problems = field_problems(exc, nearest_input(REVISION_FIELDS))
                return await _render_case(page, uow, case_id, form=form, problems=problems, status_code=422)
            try:
                await workflow.revise_case(
                    uow=uow, case_id=case_id, revision=_revision(body), submitter_id=page.principal.user_id
                )
            except (Invalid, Conflict) as exc:
                problems = field_problems(exc, nearest_input(REVISION_FIELDS))
                return await _render_case(page, uow, case_id, form=form, problems=problems, status_code=exc.status_code)
        except NotFound as exc:
            return _not_found(page, exc)
        return page.keep_cookies(RedirectResponse(f"{PREFIX}/cases/{case_id}?done=revised", status_code=303))

    @router.post("/cases/{case_id}/withdraw", response_class=HTMLResponse)
    async def withdraw(
        request: Request, case_id: uuid.UUID, uow: Uow, page: Page = Depends(submitter_page)
    ) -> Response:
        assert page.principal is not None
        form = await checked_form(request, page)
        try:
            if form.get("confirm") != "yes":
                problems = {"confirm": [page.t("sub.confirm_needed")]}
                return await _render_case(page, uow, case_id, form=form, problems=problems, status_code=422)
            try:
                body = WithdrawIn.model_validate({"reason": form.get("reason", "")})
            except ValidationError as exc:
                problems = field_problems(exc, nearest_input(("reason",)))
                return await _render_case(page, uow, case_id, form=form, problems=problems, status_code=422)
            try:
                await workflow.withdraw_case(
                    uow=uow, case_id=case_id, reason=body.reason, submitter_id=page.principal.user_id
                )
            except Conflict as exc:
                problems = {"reason": [exc.message]}
                return await _render_case(page, uow, case_id, form=form, problems=problems, status_code=409)
        except NotFound as exc:
            return _not_found(page, exc)
        return page.keep_cookies(RedirectResponse(f"{PREFIX}/cases/{case_id}?done=withdrawn", status_code=303))

    return router
