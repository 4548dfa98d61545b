"""Server-rendered pages every service shares: sign-in, sign-out, its home page, and the role check for pages.

``install_pages(app, part)`` (called by shared/service.py) adds ``GET /``, ``GET/POST /sign-in`` and
``POST /sign-out``, none of them in the OpenAPI. A service's own pages take ``Depends(page_for(Role...))``: no
session → 303 to ``/sign-in?next=…``; a role missing → a 403 page (HTML, not the API's JSON). Every form POST
passes ``checked_form``: without the right CSRF token → a 403 page saying the form has expired.
See docs/pages.md.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Collection, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    StrictUndefined,
    pass_context,
)
from jinja2.runtime import Context

from shared import registry
from shared.auth import InvalidToken, Principal, token_verifier
from shared.demo import PEOPLE, demo_token
from shared.errors import Refused
from shared.logging import get_logger
from shared.registry import Part
from shared.settings import ServiceSettings
from shared.vocabulary import Language, Role
from shared.web import session
from shared.web.i18n import LANGUAGE_COOKIE, LANGUAGE_NAMES, Translator, choose_language

log = get_logger(__name__)
_R = TypeVar("_R", bound=Response)

# A service's own pages are named "<service>/<name>" and live in services/<service>/templates/pages/.
_SERVICES = Path(__file__).resolve().parents[2] / "services"
_templates = Environment(
    loader=ChoiceLoader(
        [
            PackageLoader("shared.web", "templates"),
            PrefixLoader(
                {p.name: FileSystemLoader(_SERVICES / p.name / "templates" / "pages") for p in registry.PARTS}
            ),
        ]
    ),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
)


@pass_context
def _label(context: Context, value: object, vocabulary: str) -> str:
    """``{{ case.category | label("category") }}``: a value of a fixed vocabulary in the page's language
    (``Translator.label``, the one place pages look labels up)."""
    t: Translator = context["t"]
    return t.label(vocabulary, value)


_templates.filters["label"] = _label


def public_urls() -> dict[str, str]:
    """Each service's address for people (``KIPINA_<SERVICE>_PUBLIC_URL``, else the registry's)."""
    return {p.name: os.environ.get(f"{p.env_prefix}PUBLIC_URL", "").rstrip("/") or p.url for p in registry.PARTS}


@dataclass
class Page:
    """What one request's page knows: who asks (if anyone), in which language, and the CSRF token of its forms."""

    request: Request
    settings: ServiceSettings
    part: Part
    principal: Principal | None
    language: Language
    nonce: str
    new_nonce: bool
    asked_language: Language | None
    cookies_to_clear: list[str] = field(default_factory=list)

    @property
    def t(self) -> Translator:
        return Translator(self.language)

    @property
    def csrf_token(self) -> str:
        return session.csrf_token(self.settings.jwt_secret.get_secret_value(), self.nonce)

    def language_links(self) -> list[dict[str, Any]]:
        return [
            {
                "code": str(code),
                "name": name,
                "href": f"{self.request.url.path}?{self.request.url.include_query_params(lang=str(code)).query}",
                "current": code == self.language,
            }
            for code, name in LANGUAGE_NAMES.items()
        ]

    def render(self, template: str, *, status_code: int = 200, **values: Any) -> Response:
        t = self.t
        html = _templates.get_template(template).render(
            page=self,
            t=t,
            lang=str(self.language),
            principal=self.principal,
            service_title=t(f"service.{self.part.name}"),
            csrf_field=session.CSRF_FIELD,
            **values,
        )
        return self.keep_cookies(HTMLResponse(html, status_code=status_code))

    def refused(self, exc: Refused, *, back: str = "/", back_words: str = "back_home") -> Response:
        """A use case's refusal as a page: its message, with its status (404, 409, 422), and a way back."""
        return self.render(
            "refused.html.j2", status_code=exc.status_code, message=exc.message, back=back, back_words=back_words
        )

    def keep_cookies(self, response: _R) -> _R:
        """Sets the cookies this request decided on: a new CSRF nonce, the language asked for, stale ones cleared."""
        secure = self.settings.cookie_secure
        if self.new_nonce:
            response.set_cookie(session.CSRF_COOKIE, self.nonce, httponly=True, samesite="lax", secure=secure)
        if self.asked_language is not None:
            response.set_cookie(
                LANGUAGE_COOKIE,
                str(self.asked_language),
                max_age=session.LANGUAGE_COOKIE_MAX_AGE,
                httponly=True,
                samesite="lax",
                secure=secure,
            )
        for name in self.cookies_to_clear:
            response.delete_cookie(name, httponly=True, samesite="lax", secure=secure)
        return response


async def _signed_in(request: Request) -> tuple[Principal | None, bool]:
    """The principal of the session cookie (or of a bearer token an authentication proxy passes); whether a
    session cookie was there but is no longer valid."""
    token = request.cookies.get(session.SESSION_COOKIE)
    from_cookie = token is not None
    if token is None:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        token = credentials if scheme.lower() == "bearer" and credentials else None
    if token is None:
        return None, False
    try:
        return await token_verifier(request).verify(token), False
    except InvalidToken as exc:
        log.debug("page session refused", reason=str(exc))
        return None, from_cookie


async def current_page(request: Request) -> Page:
    """A dependency: the ``Page`` of this request, whoever asks (signed in or not)."""
    principal, stale = await _signed_in(request)
    nonce = request.cookies.get(session.CSRF_COOKIE)
    asked = request.query_params.get("lang")
    language = choose_language(
        asked=asked,
        remembered=request.cookies.get(LANGUAGE_COOKIE),
        users=principal.language if principal else None,
        accept_language=request.headers.get("accept-language", ""),
    )
    return Page(
        request=request,
        settings=request.app.state.settings,
        part=request.app.state.pages_part,
        principal=principal,
        language=language,
        nonce=nonce or session.new_nonce(),
        new_nonce=not nonce,
        asked_language=language if asked and str(language) == asked else None,
        cookies_to_clear=[session.SESSION_COOKIE] if stale else [],
    )


class SignInRequired(Exception):
    """No valid session: off to the sign-in page, and back here afterwards."""


class PageRefused(Exception):
    """A 403 page: ``title_key`` and ``message_key`` name texts of shared/web/i18n.py."""

    def __init__(self, title_key: str, message_key: str, **values: object) -> None:
        super().__init__(message_key)
        self.title_key = title_key
        self.message_key = message_key
        self.values = values


class PageFor:
    """A dependency admitting a signed-in person holding any of ``roles``; gives the request's ``Page``."""

    def __init__(self, *roles: Role) -> None:
        if not roles:
            raise ValueError("a page's role check needs at least one role")
        self.roles = roles

    async def __call__(self, page: Page = Depends(current_page)) -> Page:
        if page.principal is None:
            raise SignInRequired
        if not page.principal.roles.intersection(self.roles):
            t = page.t
            raise PageRefused(
                "refused_title",
                "needs_role",
                roles=" / ".join(t.role(r) for r in self.roles),
                yours=t.roles(page.principal.roles),
            )
        return page


def page_for(*roles: Role) -> PageFor:
    return PageFor(*roles)


async def signed_in_page(page: Page = Depends(current_page)) -> Page:
    """A dependency: the ``Page`` of a signed-in person, whatever their roles."""
    if page.principal is None:
        raise SignInRequired
    return page


async def checked_form(request: Request, page: Page) -> dict[str, str]:
    """The fields of a form POST whose CSRF token matches the browser's nonce; else ``PageRefused`` (403)."""
    form = session.parse_form(await request.body())
    secret = page.settings.jwt_secret.get_secret_value()
    if not session.csrf_valid(
        secret, nonce=request.cookies.get(session.CSRF_COOKIE), sent=form.get(session.CSRF_FIELD)
    ):
        raise PageRefused("form_expired_title", "form_expired")
    return form


def _sign_in_redirect(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/sign-in?next={quote(here, safe='')}", status_code=303)


# Where each role works: (service, path, the words naming the page). The home page lists a person's own.
WORKBENCHES: Final[dict[Role, tuple[tuple[str, str, str], ...]]] = {
    Role.SUBMITTER: (("intake", "/submitter/calls", "sub.open_calls"), ("intake", "/submitter/cases", "sub.my_cases")),
    Role.REVIEWER: (("review", "/reviewer", "rev.workbench"),),
    Role.JUROR: (("awards", "/juror", "awards.my_assignments"),),
    Role.OPERATOR: (
        ("intake", "/operator/calls", "intake_op.calls"),
        *((p.name, "/ops", "ops_title") for p in registry.PARTS),
    ),
}


def workbench_links(roles: Collection[Role], urls: Mapping[str, str], t: Callable[[str], str]) -> list[dict[str, str]]:
    """The pages a person with ``roles`` works on, in the order of WORKBENCHES, each once."""
    links: list[dict[str, str]] = []
    for role, pages in WORKBENCHES.items():
        if role in roles:
            for service, path, words in pages:
                link = {"url": f"{urls[service]}{path}", "label": t(words), "service": t(f"service.{service}")}
                if link not in links:
                    links.append(link)
    return links


def pages_router() -> APIRouter:
    router = page_router()

    @router.get("/", response_class=HTMLResponse)
    async def home(page: Page = Depends(signed_in_page)) -> Response:
        urls = public_urls()
        services = [
            {"name": p.name, "title": page.t(f"service.{p.name}"), "url": urls[p.name], "current": p == page.part}
            for p in registry.PARTS
        ]
        mine = workbench_links(page.principal.roles, urls, page.t) if page.principal else []
        return page.render("home.html.j2", services=services, workbenches=mine)

    @router.get("/sign-in", response_class=HTMLResponse)
    async def sign_in_form(request: Request, page: Page = Depends(current_page)) -> Response:
        next_path = session.safe_next(request.query_params.get("next"))
        if not page.settings.dev_sign_in and page.settings.sign_in_url:
            # A deployment's own sign-in (its OIDC authorization-code flow) starts there and comes back to next.
            target = f"{page.settings.sign_in_url}?next={quote(next_path, safe='')}"
            return page.keep_cookies(RedirectResponse(target, status_code=303))
        return page.render("sign_in.html.j2", people=_people(), next_path=next_path, error=None)

    @router.post("/sign-in", response_class=HTMLResponse)
    async def sign_in(request: Request, page: Page = Depends(current_page)) -> Response:
        form = await checked_form(request, page)
        next_path = session.safe_next(form.get("next"))
        if not page.settings.dev_sign_in:
            return page.render("message.html.j2", status_code=404, title_key="sign_in", message_key="dev_sign_in_off")
        who = form.get("person", "")
        if who not in PEOPLE:
            return page.render(
                "sign_in.html.j2", status_code=422, people=_people(), next_path=next_path, error="unknown_person"
            )
        token = demo_token(who, settings=page.settings, ttl=session.SESSION_TTL)
        response = RedirectResponse(next_path, status_code=303)
        response.set_cookie(
            session.SESSION_COOKIE,
            token,
            max_age=int(session.SESSION_TTL.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=page.settings.cookie_secure,
        )
        # The person's own language from now on, unless they pick another.
        response.delete_cookie(LANGUAGE_COOKIE, httponly=True, samesite="lax", secure=page.settings.cookie_secure)
        log.info("signed in on a page (development)", user_id=PEOPLE[who]["user_id"])
        return response

    @router.post("/sign-out", response_class=HTMLResponse)
    async def sign_out(request: Request, page: Page = Depends(current_page)) -> Response:
        await checked_form(request, page)
        response = RedirectResponse("/sign-in", status_code=303)
        response.delete_cookie(
            session.SESSION_COOKIE, httponly=True, samesite="lax", secure=page.settings.cookie_secure
        )
        return page.keep_cookies(response)

    return router


def _people() -> list[dict[str, Any]]:
    return [{"key": key, **person} for key, person in PEOPLE.items()]


class PageRoute(APIRoute):
    """A page's route: a path or query value that does not parse (``/juror/cases/abc``) names no page, so it gets
    the "page not found" page (404) instead of the API's JSON 422."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_page(request: Request) -> Response:
            try:
                return await handle(request)
            except RequestValidationError:
                page = await current_page(request)
                return page.render(
                    "message.html.j2", status_code=404, title_key="not_found_title", message_key="not_found", values={}
                )

        return handle_page


def page_router(**kwargs: Any) -> APIRouter:
    """A router of pages for people: outside the OpenAPI, with PageRoute's answer to an address that names nothing."""
    return APIRouter(include_in_schema=False, route_class=PageRoute, **kwargs)


def install_pages(app: FastAPI, part: Part) -> None:
    """Mounts the shared pages and renders their refusals as pages."""
    app.state.pages_part = part
    app.include_router(pages_router())

    async def on_sign_in_required(request: Request, exc: Exception) -> Response:
        return _sign_in_redirect(request)

    async def on_page_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageRefused)
        page = await current_page(request)
        return page.render(
            "message.html.j2", status_code=403, title_key=exc.title_key, message_key=exc.message_key, values=exc.values
        )

    handlers: dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
        SignInRequired: on_sign_in_required,
        PageRefused: on_page_refused,
    }
    for exc_type, handler in handlers.items():
        app.add_exception_handler(exc_type, handler)
