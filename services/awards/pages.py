"""Awards' pages for people: the juror's workbench and the operator's jury, criteria, leaderboard and decisions.

A thin adapter beside api.py: each route reads a form, validates it with the API's own request schemas, hands
plain values to the same use cases in workflow.py, and renders (or, after a POST, redirects: 303). The API's
validation messages appear at their fields; a use case's refusal (``shared.errors``) becomes a page saying it.
See docs/pages.md, "The juror's workbench" and "The operator's awards pages".
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, cast

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from services.awards import workflow
from services.awards.domain import NO_JURY, EvaluationStatus, ScoreEntry
from services.awards.repository import AwardsRepository
from services.awards.schemas import CriteriaBody, DecisionBody, JuryBody, ScorecardBody
from services.awards.settings import AwardsSettings
from shared.errors import Invalid, NotFound, Refused
from shared.events import Criterion
from shared.http import correlation_id, get_runtime
from shared.uow import UnitOfWork
from shared.vocabulary import AwardOutcome, Language, Role
from shared.web.forms import Problems, field_problems, number, utc_datetime
from shared.web.pages import Page, checked_form, page_for, page_router

juror_page = page_for(Role.JUROR)
operator_page = page_for(Role.OPERATOR)
LISTED = 200
# Empty rows a form offers for one more juror or criterion (no JavaScript adds rows).
SPARE_ROWS = 2


def _uow(page: Page) -> UnitOfWork[AwardsRepository]:
    return get_runtime(page.request).unit_of_work(AwardsRepository, correlation_id=correlation_id(page.request))


def _settings(page: Page) -> AwardsSettings:
    return cast(AwardsSettings, get_runtime(page.request).settings)


def _rows(
    form: Mapping[str, str], prefix: str, fields: tuple[str, ...], *, preset: tuple[str, ...] = ()
) -> list[dict[str, str]]:
    """Numbered rows of a form (``juror.0.name`` …), in order; a row left empty (but for ``preset`` fields, which
    always have a value, such as a select) is no row."""
    rows: list[dict[str, str]] = []
    i = 0
    while any(f"{prefix}.{i}.{f}" in form for f in fields):
        row = {f: form.get(f"{prefix}.{i}.{f}", "").strip() for f in fields}
        if any(v for f, v in row.items() if f not in preset):
            rows.append(row)
        i += 1
    return rows


# --------------------------------------------------------------------------- jurors


async def _render_assignment(
    page: Page,
    case_id: uuid.UUID,
    *,
    status_code: int = 200,
    form: Mapping[str, str] | None = None,
    problems: Problems | None = None,
) -> Response:
    assert page.principal is not None
    try:
        assigned = await workflow.juror_assignment(uow=_uow(page), case_id=case_id, juror_id=page.principal.user_id)
    except Refused as exc:
        return page.refused(exc)
    a = assigned.assignment
    own = a.scorecard.by_criterion() if a.scorecard else {}
    own_comments = {s.criterion: s.comment for s in a.scorecard.scores} if a.scorecard else {}
    values = dict(form or {})
    criteria = [
        {
            "c": c,
            "index": i,
            "chosen": values.get(f"score.{c.key}", str(own.get(c.key, ""))),
            "comment": values.get(f"comment.{c.key}", own_comments.get(c.key, "")),
            "scale": list(range(c.scale_min, c.scale_max + 1)),
        }
        for i, c in enumerate(a.evaluation.criteria)
    ]
    return page.render(
        "awards/assignment.html.j2",
        status_code=status_code,
        a=a,
        dossier=assigned.dossier,
        states=assigned.dossier.point_states(),
        criteria=criteria,
        overall=values.get("overall_comment", a.scorecard.overall_comment if a.scorecard else ""),
        reason=values.get("reason", ""),
        problems=problems or {},
        done=page.request.query_params.get("done", ""),
        scoring_open=a.evaluation.status == EvaluationStatus.OPEN,
    )


def juror_router() -> APIRouter:
    router = page_router()

    @router.get("/juror", response_class=HTMLResponse)
    async def assignments(page: Page = Depends(juror_page)) -> Response:
        assert page.principal is not None
        listed, total = await workflow.juror_assignments(
            uow=_uow(page), juror_id=page.principal.user_id, status=None, limit=LISTED, offset=0
        )
        return page.render(
            "awards/assignments.html.j2",
            assignments=[x.assignment for x in listed],
            total=total,
            done=page.request.query_params.get("done", ""),
        )

    @router.get("/juror/cases/{case_id}", response_class=HTMLResponse)
    async def assignment(case_id: uuid.UUID, page: Page = Depends(juror_page)) -> Response:
        return await _render_assignment(page, case_id)

    @router.post("/juror/cases/{case_id}/scores", response_class=HTMLResponse)
    async def score(request: Request, case_id: uuid.UUID, page: Page = Depends(juror_page)) -> Response:
        form = await checked_form(request, page)
        assert page.principal is not None
        try:
            assigned = await workflow.juror_assignment(uow=_uow(page), case_id=case_id, juror_id=page.principal.user_id)
        except Refused as exc:
            return page.refused(exc)
        keys = [c.key for c in assigned.assignment.evaluation.criteria]
        raw = {
            "scores": [
                {"criterion": k, "score": number(form.get(f"score.{k}", "")), "comment": form.get(f"comment.{k}", "")}
                for k in keys
            ],
            "overall_comment": form.get("overall_comment", ""),
        }
        try:
            body = ScorecardBody.model_validate(raw)
            await workflow.submit_scores(
                uow=_uow(page),
                case_id=case_id,
                juror_id=page.principal.user_id,
                scores=[ScoreEntry(criterion=s.criterion, score=s.score, comment=s.comment) for s in body.scores],
                overall_comment=body.overall_comment,
            )
        except (ValidationError, Invalid) as exc:
            problems = field_problems(exc, _score_input(keys))
            return await _render_assignment(page, case_id, status_code=422, form=form, problems=problems)
        except Refused as exc:
            return page.refused(exc)
        return page.keep_cookies(RedirectResponse(f"/juror/cases/{case_id}?done=scored#notice", status_code=303))

    @router.post("/juror/cases/{case_id}/conflict", response_class=HTMLResponse)
    async def conflict(request: Request, case_id: uuid.UUID, page: Page = Depends(juror_page)) -> Response:
        form = await checked_form(request, page)
        assert page.principal is not None
        reason = form.get("reason", "").strip()
        problems: Problems = {}
        if not reason:
            problems["reason"] = [page.t("awards.reason_required")]
        elif len(reason) > 2000:
            problems["reason"] = ["String should have at most 2000 characters"]
        if form.get("confirm") != "yes":
            problems["confirm"] = [page.t("awards.confirm_required")]
        if problems:
            return await _render_assignment(page, case_id, status_code=422, form=form, problems=problems)
        try:
            await workflow.declare_conflict(
                uow=_uow(page),
                case_id=case_id,
                juror_id=page.principal.user_id,
                reason=reason,
                scoring_period=_settings(page).scoring_period,
            )
        except Refused as exc:
            return page.refused(exc)
        return page.keep_cookies(RedirectResponse("/juror?done=recused#notice", status_code=303))

    return router


def _score_input(keys: list[str]) -> Callable[[str], str]:
    """``scores.1.score`` → ``score.<key of the second criterion>``: where the form shows it."""

    def where(path: str) -> str:
        parts = path.split(".")
        if len(parts) == 3 and parts[0] == "scores" and parts[1].isdigit() and int(parts[1]) < len(keys):
            field = "comment" if parts[2] == "comment" else "score"
            return f"{field}.{keys[int(parts[1])]}"
        return path

    return where


# --------------------------------------------------------------------------- operators

JUROR_FIELDS = ("user_id", "name", "email", "organisation_id", "language", "conflicts")
CRITERION_FIELDS = ("key", "name", "weight", "scale_min", "scale_max", "description")


async def _render_call(
    page: Page,
    call_id: uuid.UUID,
    *,
    status_code: int = 200,
    jury_form: list[dict[str, str]] | None = None,
    jury_settings: Mapping[str, str] | None = None,
    criteria_form: list[dict[str, str]] | None = None,
    problems: Problems | None = None,
    section: str = "",
) -> Response:
    uow = _uow(page)
    try:
        criteria = await workflow.call_criteria(uow=uow, call_id=call_id)
        try:
            jury_state: workflow.JuryState | None = await workflow.get_jury(uow=_uow(page), call_id=call_id)
        except NotFound:
            jury_state = None
        board = await workflow.leaderboard(uow=_uow(page), call_id=call_id, category=None, normalise=False)
        evaluations, _ = await workflow.list_evaluations(
            uow=_uow(page), call_id=call_id, status=None, limit=LISTED, offset=0
        )
    except Refused as exc:
        return page.refused(exc)
    jury = jury_state.jury if jury_state else NO_JURY
    if jury_form is None:
        jury_form = [
            {
                "user_id": j.user_id,
                "name": j.name,
                "email": j.email or "",
                "organisation_id": j.organisation_id,
                "language": str(j.language),
                "conflicts": ", ".join(sorted(j.conflicts)),
            }
            for j in jury.jurors
        ]
    jury_rows = jury_form + [dict.fromkeys(JUROR_FIELDS, "") for _ in range(SPARE_ROWS)]
    if criteria_form is None:
        criteria_form = [
            {
                "key": c.key,
                "name": c.name,
                "weight": f"{c.weight:g}",
                "scale_min": str(c.scale_min),
                "scale_max": str(c.scale_max),
                "description": c.description,
            }
            for c in criteria.criteria
        ]
    due = jury.scoring_due_at.strftime("%Y-%m-%dT%H:%M") if jury.scoring_due_at else ""
    settings = {"jurors_per_case": str(jury.jurors_per_case), "scoring_due_at": due, **(jury_settings or {})}
    return page.render(
        "awards/call.html.j2",
        status_code=status_code,
        call_id=call_id,
        criteria=criteria,
        criteria_rows=criteria_form + [dict.fromkeys(CRITERION_FIELDS, "") for _ in range(1)],
        jury_rows=jury_rows,
        jury_settings=settings,
        loads=jury_state.loads if jury_state else {},
        board=board,
        evaluations=evaluations,
        outcomes=[str(o) for o in AwardOutcome],
        languages=[str(lang) for lang in Language],
        problems=problems or {},
        section=section,
        done=page.request.query_params.get("done", ""),
    )


def _jury_raw(rows: list[dict[str, str]], form: Mapping[str, str]) -> dict[str, Any]:
    return {
        "jurors": [
            {
                "user_id": r["user_id"],
                "name": r["name"],
                "email": r["email"] or None,
                "organisation_id": r["organisation_id"],
                "language": r["language"] or "en",
                "conflicts": [c.strip() for c in r["conflicts"].split(",") if c.strip()],
            }
            for r in rows
        ],
        "jurors_per_case": number(form.get("jurors_per_case", "")),
        # A datetime-local field has no offset: the form says the deadline is in UTC.
        "scoring_due_at": utc_datetime(form.get("scoring_due_at", "")),
    }


def operator_router() -> APIRouter:
    router = page_router()

    @router.get("/operator/calls/{call_id}", response_class=HTMLResponse)
    async def call(call_id: uuid.UUID, page: Page = Depends(operator_page)) -> Response:
        return await _render_call(page, call_id)

    @router.post("/operator/calls/{call_id}/jury", response_class=HTMLResponse)
    async def set_jury(request: Request, call_id: uuid.UUID, page: Page = Depends(operator_page)) -> Response:
        form = await checked_form(request, page)
        assert page.principal is not None
        rows = _rows(form, "juror", JUROR_FIELDS, preset=("language",))
        settings = {k: form.get(k, "") for k in ("jurors_per_case", "scoring_due_at")}
        try:
            body = JuryBody.model_validate(_jury_raw(rows, form))
            jury = body.to_jury()
            await workflow.set_jury(
                uow=_uow(page),
                call_id=call_id,
                jury=jury,
                operator_id=page.principal.user_id,
                scoring_period=_settings(page).scoring_period,
            )
        except (ValidationError, Invalid) as exc:
            problems = field_problems(exc, _row_input("jurors", "juror"))
            return await _render_call(
                page,
                call_id,
                status_code=422,
                jury_form=rows,
                jury_settings=settings,
                problems=problems,
                section="jury",
            )
        except Refused as exc:
            return page.refused(exc)
        return page.keep_cookies(RedirectResponse(f"/operator/calls/{call_id}?done=jury#jury", status_code=303))

    @router.post("/operator/calls/{call_id}/criteria", response_class=HTMLResponse)
    async def set_criteria(request: Request, call_id: uuid.UUID, page: Page = Depends(operator_page)) -> Response:
        form = await checked_form(request, page)
        assert page.principal is not None
        rows = _rows(form, "criterion", CRITERION_FIELDS)
        try:
            numbers = ("weight", "scale_min", "scale_max")
            criteria = [{k: number(v) if k in numbers else v for k, v in r.items()} for r in rows]
            body = CriteriaBody.model_validate({"criteria": criteria})
            await workflow.set_criteria(
                uow=_uow(page),
                call_id=call_id,
                criteria=[Criterion(**c.model_dump()) for c in body.criteria],
                operator_id=page.principal.user_id,
            )
        except (ValidationError, Invalid) as exc:
            problems = field_problems(exc, _row_input("criteria", "criterion"))
            return await _render_call(
                page, call_id, status_code=422, criteria_form=rows, problems=problems, section="criteria"
            )
        except Refused as exc:
            return page.refused(exc)
        return page.keep_cookies(RedirectResponse(f"/operator/calls/{call_id}?done=criteria#criteria", status_code=303))

    @router.post("/operator/calls/{call_id}/cases/{case_id}/decision", response_class=HTMLResponse)
    async def decide(
        request: Request, call_id: uuid.UUID, case_id: uuid.UUID, page: Page = Depends(operator_page)
    ) -> Response:
        form = await checked_form(request, page)
        assert page.principal is not None
        try:
            body = DecisionBody.model_validate(
                {"outcome": form.get("outcome", ""), "feedback": form.get("feedback", "")}
            )
            await workflow.decide(
                uow=_uow(page),
                case_id=case_id,
                outcome=body.outcome,
                feedback=body.feedback,
                operator_id=page.principal.user_id,
            )
        except ValidationError as exc:
            problems = field_problems(exc, lambda path: f"{case_id}.{path}")
            return await _render_call(page, call_id, status_code=422, problems=problems, section=f"case-{case_id}")
        except Refused as exc:
            return page.refused(exc)
        return page.keep_cookies(RedirectResponse(f"/operator/calls/{call_id}?done=decided#decisions", status_code=303))

    @router.post("/operator/calls/{call_id}/publish", response_class=HTMLResponse)
    async def publish(request: Request, call_id: uuid.UUID, page: Page = Depends(operator_page)) -> Response:
        form = await checked_form(request, page)
        if form.get("confirm") != "yes":
            problems = {"publish.confirm": [page.t("awards.confirm_required")]}
            return await _render_call(page, call_id, status_code=422, problems=problems, section="publish")
        try:
            await workflow.publish_results(uow=_uow(page), call_id=call_id)
        except Refused as exc:
            return page.refused(exc)
        return page.keep_cookies(RedirectResponse(f"/operator/calls/{call_id}?done=published#publish", status_code=303))

    return router


def _row_input(api_list: str, form_prefix: str) -> Callable[[str], str]:
    """``jurors.1.email`` (the API's field) → ``juror.1.email`` (the form's input)."""

    def where(path: str) -> str:
        return form_prefix + path[len(api_list) :] if path.startswith(f"{api_list}.") else path

    return where


def page_routers() -> list[APIRouter]:
    return [juror_router(), operator_router()]
