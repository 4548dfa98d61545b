"""The reviewer's workbench: claim the next task, read the case with its earlier iterations and open feedback
points, fill the stage's checklist, decide; release a task (role reviewer).

A thin adapter beside api.py: the forms become the API's own request body (schemas.DecisionIn), so the field
messages are the API's, and the same use cases of workflow.py run. Refusals (``shared.errors``) become the task
page again with the message (409/422) or a message page (404), never a 500. Forms POST with CSRF and answer 303.
See docs/pages.md, "The reviewer's workbench".
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from services.review import domain, workflow
from services.review.domain import Decision, Verdict
from services.review.repository import ReviewRepository
from services.review.schemas import DecisionIn
from services.review.settings import ReviewSettings
from shared.errors import Conflict, Invalid, NotFound, Refused
from shared.events import FeedbackItem
from shared.feedback import PointStatus
from shared.http import get_runtime, unit_of_work
from shared.uow import UnitOfWork
from shared.vocabulary import Role
from shared.web.forms import Problems, field_problems
from shared.web.pages import Page, checked_form, page_for, page_router

PREFIX = "/reviewer"
TEMPLATES = "review"  # services/review/templates/pages/, named "<service>/<name>" (shared/web/pages.py)
DONE = ("decided", "released", "none_available")

Uow = Annotated[UnitOfWork[ReviewRepository], Depends(unit_of_work(ReviewRepository))]
reviewer_page = page_for(Role.REVIEWER)


def _settings(page: Page) -> ReviewSettings:
    return cast(ReviewSettings, get_runtime(page.request).settings)


def answered_rows(form: Mapping[str, str], checklist: Sequence[str]) -> list[int]:
    """The checklist rows the reviewer answered (met yes or no); only these are part of the feedback."""
    return [i for i in range(len(checklist)) if form.get(f"met.{i}", "") in ("yes", "no")]


def decision_body(form: Mapping[str, str], checklist: Sequence[str]) -> dict[str, Any]:
    """The decision form as the API's DecisionIn: the decision, its reasons, and each answered checklist row
    (met yes/no, with its comment)."""
    feedback = [
        {"checklist_item": checklist[i], "met": form[f"met.{i}"] == "yes", "comment": form.get(f"comment.{i}", "")}
        for i in answered_rows(form, checklist)
    ]
    return {"decision": form.get("decision", ""), "comment": form.get("comment", ""), "feedback": feedback}


def decision_input(rows: Sequence[int]) -> Callable[[str], str]:
    """Where the decision form shows a message about an API path (``shared.web.forms.field_problems``):
    ``decision``, ``comment``, or ``comment.<row>`` of the checklist, where the body's n-th feedback item is the
    form's ``rows[n]``; anything else above the form."""

    def where(path: str) -> str:
        match path.split("."):
            case ["feedback", index, *_] if index.isdigit() and int(index) < len(rows):
                return f"comment.{rows[int(index)]}"
            case [("decision" | "comment") as name, *_]:
                return name
            case _:
                return ""

    return where


async def _render_task(
    page: Page,
    uow: Uow,
    task_id: uuid.UUID,
    *,
    form: Mapping[str, str] | None = None,
    problems: Problems | None = None,
    status_code: int = 200,
) -> Response:
    assert page.principal is not None
    brief = await workflow.get_task(uow=uow, task_id=task_id, viewer=page.principal)
    task = brief.task
    held = task.reviewer_id == page.principal.user_id and task.status == domain.TaskStatus.CLAIMED
    return page.render(
        f"{TEMPLATES}/task.html.j2",
        status_code=status_code,
        task=task,
        case=task.case,
        header=task.case.header,
        details=task.case.details,
        earlier=brief.earlier,
        open_points=[p for p in brief.points if p.state.status is PointStatus.OPEN],
        revisions=brief.revisions,
        checklist=domain.checklist(task.stage),
        decisions=list(Decision),
        held=held,
        form=form or {},
        problems=problems or {},
    )


def _refused(page: Page, exc: Refused) -> Response:
    return page.refused(exc, back=PREFIX, back_words="rev.workbench")


def reviewer_pages_router() -> APIRouter:
    router = page_router(prefix=PREFIX)

    @router.get("", response_class=HTMLResponse)
    async def workbench(uow: Uow, page: Page = Depends(reviewer_page)) -> Response:
        assert page.principal is not None
        held = await workflow.held_tasks(uow=uow, reviewer=page.principal)
        done = page.request.query_params.get("done", "")
        return page.render(f"{TEMPLATES}/workbench.html.j2", held=held, done=done if done in DONE else "")

    @router.post("/claim", response_class=HTMLResponse)
    async def claim(request: Request, uow: Uow, page: Page = Depends(reviewer_page)) -> Response:
        assert page.principal is not None
        await checked_form(request, page)
        brief = await workflow.claim_task(uow=uow, reviewer=page.principal, lease=_settings(page).lease)
        target = f"{PREFIX}?done=none_available" if brief is None else f"{PREFIX}/tasks/{brief.task.task_id}"
        return page.keep_cookies(RedirectResponse(target, status_code=303))

    @router.get("/tasks/{task_id}", response_class=HTMLResponse)
    async def task_page(task_id: uuid.UUID, uow: Uow, page: Page = Depends(reviewer_page)) -> Response:
        try:
            return await _render_task(page, uow, task_id)
        except NotFound as exc:
            return _refused(page, exc)

    @router.post("/tasks/{task_id}/decide", response_class=HTMLResponse)
    async def decide(request: Request, task_id: uuid.UUID, uow: Uow, page: Page = Depends(reviewer_page)) -> Response:
        assert page.principal is not None
        form = await checked_form(request, page)
        try:
            brief = await workflow.get_task(uow=uow, task_id=task_id, viewer=page.principal)
            checklist = domain.checklist(brief.task.stage)
            try:
                body = DecisionIn.model_validate(decision_body(form, checklist))
            except ValidationError as exc:
                problems = field_problems(exc, decision_input(answered_rows(form, checklist)))
                return await _render_task(page, uow, task_id, form=form, problems=problems, status_code=422)
            verdict = Verdict(
                decision=body.decision,
                comment=body.comment,
                feedback=tuple(
                    FeedbackItem(checklist_item=f.checklist_item, met=f.met, comment=f.comment) for f in body.feedback
                ),
            )
            try:
                await workflow.decide_task(
                    uow=uow, task_id=task_id, reviewer=page.principal, verdict=verdict, timebox=_settings(page).timebox
                )
            except (Invalid, Conflict) as exc:
                problems = field_problems(exc, decision_input(answered_rows(form, checklist)))
                return await _render_task(page, uow, task_id, form=form, problems=problems, status_code=exc.status_code)
        except NotFound as exc:
            return _refused(page, exc)
        return page.keep_cookies(RedirectResponse(f"{PREFIX}?done=decided", status_code=303))

    @router.post("/tasks/{task_id}/release", response_class=HTMLResponse)
    async def release(request: Request, task_id: uuid.UUID, uow: Uow, page: Page = Depends(reviewer_page)) -> Response:
        assert page.principal is not None
        await checked_form(request, page)
        try:
            try:
                await workflow.release_task(uow=uow, task_id=task_id, reviewer=page.principal)
            except Conflict as exc:
                return await _render_task(page, uow, task_id, problems=field_problems(exc), status_code=409)
        except NotFound as exc:
            return _refused(page, exc)
        return page.keep_cookies(RedirectResponse(f"{PREFIX}?done=released", status_code=303))

    return router
