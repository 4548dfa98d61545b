"""Intake's pages for operators: the calls, creating one, and opening or closing one (changing its window).

A thin adapter beside api.py: a form is validated with the API's own request schemas (``CallIn``,
``CallChangesIn``) and handed to the same use cases in workflow.py; the API's messages appear at their fields, a
use case's refusal becomes a page saying it, and every successful POST answers 303 (post/redirect/get). Each
call links to its jury and results on the awards service's pages. See docs/pages.md, "The operator's calls".
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from services.intake import workflow
from services.intake.api import _call_changes, _new_call
from services.intake.domain import call_is_open
from services.intake.repository import IntakeRepository
from services.intake.schemas import CallChangesIn, CallIn
from shared.errors import Invalid, Refused
from shared.http import correlation_id, get_runtime
from shared.uow import UnitOfWork
from shared.vocabulary import Category, Language, Role
from shared.web.forms import BODY, Problems, field_problems, number, utc_datetime
from shared.web.pages import Page, checked_form, page_for, page_router, public_urls

operator_page = page_for(Role.OPERATOR)
LISTED = 200
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"


def _uow(page: Page) -> UnitOfWork[IntakeRepository]:
    return get_runtime(page.request).unit_of_work(IntakeRepository, correlation_id=correlation_id(page.request))


def _refusal(page: Page, exc: Refused) -> Response:
    return page.refused(exc, back="/operator/calls", back_words="intake_op.calls")


async def _render_calls(
    page: Page,
    *,
    status_code: int = 200,
    form: Mapping[str, str] | None = None,
    problems: Problems | None = None,
) -> Response:
    calls, total = await workflow.list_calls(uow=_uow(page), open_now=False, limit=LISTED, offset=0)
    now = datetime.now(UTC)
    values = dict(form) if form is not None else {"reviewers_per_iteration": "1"}
    return page.render(
        "intake/operator_calls.html.j2",
        status_code=status_code,
        calls=[{"call": c, "open": call_is_open(opens_at=c.opens_at, closes_at=c.closes_at, now=now)} for c in calls],
        total=total,
        awards_url=public_urls()["awards"],
        categories=[str(c) for c in Category],
        languages=[str(lang) for lang in Language],
        values=values,
        fresh=form is None,
        problems=problems or {},
        done=page.request.query_params.get("done", ""),
    )


async def _render_call(
    page: Page,
    call_id: uuid.UUID,
    *,
    status_code: int = 200,
    form: Mapping[str, str] | None = None,
    problems: Problems | None = None,
) -> Response:
    try:
        call = await workflow.get_call(uow=_uow(page), call_id=call_id)
    except Refused as exc:
        return _refusal(page, exc)
    values = (
        dict(form)
        if form is not None
        else {
            "opens_at": call.opens_at.astimezone(UTC).strftime(LOCAL_MINUTE),
            "closes_at": call.closes_at.astimezone(UTC).strftime(LOCAL_MINUTE),
        }
    )
    return page.render(
        "intake/operator_call.html.j2",
        status_code=status_code,
        call=call,
        open=call_is_open(opens_at=call.opens_at, closes_at=call.closes_at, now=datetime.now(UTC)),
        awards_url=public_urls()["awards"],
        values=values,
        problems=problems or {},
        done=page.request.query_params.get("done", ""),
    )


def _new_call_raw(form: Mapping[str, str]) -> dict[str, Any]:
    return {
        "title": form.get("title", "").strip(),
        "description": form.get("description", "").strip(),
        "opens_at": utc_datetime(form.get("opens_at", "")),
        "closes_at": utc_datetime(form.get("closes_at", "")),
        "categories": [str(c) for c in Category if form.get(f"category.{c}") == "yes"],
        "languages": [str(lang) for lang in Language if form.get(f"language.{lang}") == "yes"],
        "reviewers_per_iteration": number(form.get("reviewers_per_iteration", "")),
    }


def _window_raw(form: Mapping[str, str]) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    match form.get("action", ""):
        case "open":  # open now: submissions from this moment, until the window's end
            return {"opens_at": now}
        case "close":  # close now: no submissions from this moment
            return {"closes_at": now}
        case _:
            return {
                "opens_at": utc_datetime(form.get("opens_at", "")),
                "closes_at": utc_datetime(form.get("closes_at", "")),
            }


def _problems(exc: ValidationError | Invalid) -> Problems:
    """The form's messages at their fields. The window's own rule has no field in the schema (``body``): it is
    shown at the window's end."""
    problems = field_problems(exc)
    if any("closes_at" in message for message in problems.get(BODY, [])):
        problems.setdefault("closes_at", []).extend(problems.pop(BODY))
    return problems


def operator_pages_router() -> APIRouter:
    router = page_router()

    @router.get("/operator/calls", response_class=HTMLResponse)
    async def calls(page: Page = Depends(operator_page)) -> Response:
        return await _render_calls(page)

    @router.post("/operator/calls", response_class=HTMLResponse)
    async def create_call(request: Request, page: Page = Depends(operator_page)) -> Response:
        form = await checked_form(request, page)
        assert page.principal is not None
        try:
            body = CallIn.model_validate(_new_call_raw(form))
            created = await workflow.create_call(
                uow=_uow(page), call=_new_call(body), operator_id=page.principal.user_id
            )
        except (ValidationError, Invalid) as exc:
            return await _render_calls(page, status_code=422, form=form, problems=_problems(exc))
        except Refused as exc:
            return _refusal(page, exc)
        return page.keep_cookies(RedirectResponse(f"/operator/calls?done=created#call-{created.id}", status_code=303))

    @router.get("/operator/calls/{call_id}", response_class=HTMLResponse)
    async def call(call_id: uuid.UUID, page: Page = Depends(operator_page)) -> Response:
        return await _render_call(page, call_id)

    @router.post("/operator/calls/{call_id}/window", response_class=HTMLResponse)
    async def change_window(request: Request, call_id: uuid.UUID, page: Page = Depends(operator_page)) -> Response:
        form = await checked_form(request, page)
        assert page.principal is not None
        try:
            body = CallChangesIn.model_validate(_window_raw(form))
            await workflow.change_call(
                uow=_uow(page), call_id=call_id, changes=_call_changes(body), operator_id=page.principal.user_id
            )
        except (ValidationError, Invalid) as exc:
            return await _render_call(page, call_id, status_code=422, form=form, problems=_problems(exc))
        except Refused as exc:
            return _refusal(page, exc)
        return page.keep_cookies(RedirectResponse(f"/operator/calls/{call_id}?done=window#notice", status_code=303))

    return router
