"""The shared pages (shared/web): sign-in, sign-out, the home page, CSRF, language and the pages' role check.

In-process over ASGI, without the app's lifespan (no Kafka, no database): the pages read only the session cookie.
The same behaviour in a real browser against a running service: tests/browser/test_sign_in.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.responses import Response

from shared import registry
from shared.auth import decode_token
from shared.demo import PEOPLE
from shared.settings import DEV_JWT_SECRET
from shared.vocabulary import Language, Role
from shared.web import session
from shared.web.i18n import choose_language, from_accept_language
from shared.web.pages import Page, page_for

EXPIRED = "The form has expired or was not sent by Kipinä; reload and try again."


def _app(monkeypatch: pytest.MonkeyPatch, **env: str) -> FastAPI:
    for name, value in {"KIPINA_DEV_SIGN_IN": "true", **env}.items():
        monkeypatch.setenv(name, value)
    from services.intake.app import create

    app = create()

    # A page only operators may see, for the role check (test only: no such page ships yet).
    @app.get("/test-only/operators", include_in_schema=False)
    async def operators_only(page: Page = Depends(page_for(Role.OPERATOR))) -> Response:
        return page.render("message.html.j2", title_key="roles", message_key="roles")

    return app


@pytest.fixture
async def client(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    app = _app(monkeypatch)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://unit", headers={"Accept-Language": "en"}
    ) as c:
        yield c


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def _set_cookie(response: httpx.Response, name: str) -> str:
    """The Set-Cookie header of ``name``, attributes included."""
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert headers, f"no Set-Cookie for {name}: {response.headers.get_list('set-cookie')}"
    return headers[0]


async def _sign_in(client: httpx.AsyncClient, who: str, next_path: str = "/") -> httpx.Response:
    form = await client.get("/sign-in", params={"next": next_path})
    return await client.post(
        "/sign-in", data={"csrf_token": _csrf(form.text), "person": who, "next": next_path}, follow_redirects=False
    )


async def test_without_a_session_the_home_page_sends_to_sign_in_and_back(client: httpx.AsyncClient) -> None:
    response = await client.get("/?lang=sv", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2F%3Flang%3Dsv"


async def test_the_sign_in_page_lists_the_demo_people(client: httpx.AsyncClient) -> None:
    page = await client.get("/sign-in")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for key, person in PEOPLE.items():
        assert f'value="{key}"' in page.text and person["name"] in page.text
    assert '<html lang="en">' in page.text
    assert "kipina_csrf=" in _set_cookie(page, session.CSRF_COOKIE)


async def test_signing_in_sets_the_same_jwt_in_an_httponly_samesite_cookie(client: httpx.AsyncClient) -> None:
    response = await _sign_in(client, "submitter", next_path="/?lang=fi")
    assert response.status_code == 303
    assert response.headers["location"] == "/?lang=fi"
    header = _set_cookie(response, session.SESSION_COOKIE)
    assert "HttpOnly" in header and "SameSite=lax" in header and "Secure" not in header
    token = SimpleCookie(header)[session.SESSION_COOKIE].value
    principal = decode_token(token, secret=DEV_JWT_SECRET)
    assert principal.user_id == PEOPLE["submitter"]["user_id"]
    assert principal.roles == frozenset({Role.SUBMITTER})


async def test_the_session_cookie_is_secure_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(monkeypatch, KIPINA_COOKIE_SECURE="true")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://unit") as c:
        assert "Secure" in _set_cookie(await _sign_in(c, "reviewer"), session.SESSION_COOKIE)


async def test_home_shows_who_you_are_in_your_own_language_and_switches(client: httpx.AsyncClient) -> None:
    await _sign_in(client, "submitter")
    client.headers.pop("Accept-Language")
    home = await client.get("/")
    assert home.status_code == 200
    assert '<html lang="fi">' in home.text  # Saara's language in her token
    assert "Olet kirjautunut: Saara Submitter" in home.text and 'data-testid="roles">hakija<' in home.text
    for part in registry.PARTS:
        assert f'href="{part.url}/"' in home.text
    switched = await client.get("/", params={"lang": "sv"})
    assert "Du är inloggad som: Saara Submitter" in switched.text and ">sökande<" in switched.text
    assert "kipina_lang=sv" in _set_cookie(switched, "kipina_lang")
    assert '<html lang="sv">' in (await client.get("/")).text  # remembered


async def test_home_links_each_person_to_the_pages_of_their_roles(client: httpx.AsyncClient) -> None:
    await _sign_in(client, "submitter")
    mine = (await client.get("/", params={"lang": "en"})).text
    assert (
        f'href="{registry.INTAKE.url}/submitter/calls"' in mine
        and f'href="{registry.INTAKE.url}/submitter/cases"' in mine
    )
    assert "/reviewer" not in mine and "/juror" not in mine and "/ops" not in mine
    await _sign_in(client, "operator")
    ops = (await client.get("/", params={"lang": "en"})).text
    assert f'href="{registry.INTAKE.url}/operator/calls"' in ops
    assert all(f'href="{p.url}/ops"' in ops for p in registry.PARTS)
    assert "/submitter/" not in ops


async def test_a_page_address_whose_id_does_not_parse_is_a_page_not_found_page(client: httpx.AsyncClient) -> None:
    await _sign_in(client, "operator")
    missing = await client.get("/operator/calls/not-a-call")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "Nothing is at this address." in missing.text


async def test_links_to_the_other_services_follow_their_public_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(monkeypatch, KIPINA_AWARDS_PUBLIC_URL="https://awards.kipina.example/")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://unit") as c:
        await _sign_in(c, "operator")
        home = (await c.get("/")).text
    assert 'href="https://awards.kipina.example/"' in home
    assert f'href="{registry.REVIEW.url}/"' in home


@pytest.mark.parametrize("token", [None, "", "not-the-token"], ids=["missing", "empty", "wrong"])
async def test_a_form_without_the_right_csrf_token_is_refused_with_a_page(
    client: httpx.AsyncClient, token: str | None
) -> None:
    await client.get("/sign-in")  # the browser holds a nonce
    data = {"person": "operator", "next": "/"} | ({"csrf_token": token} if token is not None else {})
    response = await client.post("/sign-in", data=data, follow_redirects=False)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert EXPIRED in response.text
    assert session.SESSION_COOKIE not in response.headers.get("set-cookie", "")


async def test_a_csrf_token_of_another_browser_is_refused(client: httpx.AsyncClient, monkeypatch) -> None:
    other = _app(monkeypatch)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=other), base_url="http://unit") as attacker:
        token = _csrf((await attacker.get("/sign-in")).text)
    await client.get("/sign-in")
    response = await client.post("/sign-in", data={"csrf_token": token, "person": "operator"}, follow_redirects=False)
    assert response.status_code == 403 and EXPIRED in response.text


async def test_signing_out_needs_the_token_and_clears_the_session(client: httpx.AsyncClient) -> None:
    await _sign_in(client, "juror-1")
    home = await client.get("/")
    assert (await client.post("/sign-out", data={}, follow_redirects=False)).status_code == 403
    response = await client.post("/sign-out", data={"csrf_token": _csrf(home.text)}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/sign-in")
    assert 'kipina_session=""' in _set_cookie(response, session.SESSION_COOKIE)
    assert (await client.get("/", follow_redirects=False)).status_code == 303


async def test_an_invalid_session_cookie_sends_to_sign_in(client: httpx.AsyncClient) -> None:
    client.cookies.set(session.SESSION_COOKIE, "forged.token.value")
    assert (await client.get("/", follow_redirects=False)).status_code == 303


async def test_a_page_needing_a_role_refuses_others_with_a_page(client: httpx.AsyncClient) -> None:
    anonymous = await client.get("/test-only/operators", follow_redirects=False)
    assert anonymous.headers["location"] == "/sign-in?next=%2Ftest-only%2Foperators"
    await _sign_in(client, "submitter")
    refused = await client.get("/test-only/operators?lang=en")
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "This page needs the role: operator. Your roles: submitter." in refused.text
    await _sign_in(client, "operator")
    assert (await client.get("/test-only/operators")).status_code == 200


async def test_unknown_people_and_a_foreign_next_are_not_signed_in(client: httpx.AsyncClient) -> None:
    unknown = await _sign_in(client, "mallory")
    assert unknown.status_code == 422 and "Choose one of the listed people." in unknown.text
    assert session.SESSION_COOKIE not in unknown.headers.get("set-cookie", "")
    elsewhere = await _sign_in(client, "reviewer", next_path="//evil.example/")
    assert elsewhere.headers["location"] == "/"


async def test_development_sign_in_is_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(monkeypatch, KIPINA_DEV_SIGN_IN="false")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://unit") as c:
        page = await c.get("/sign-in")
        assert page.status_code == 200 and PEOPLE["operator"]["name"] not in page.text
        token = session.csrf_token(DEV_JWT_SECRET, c.cookies[session.CSRF_COOKIE])  # no form shown: a forged POST
        refused = await c.post("/sign-in", data={"csrf_token": token, "person": "operator"})
        assert refused.status_code == 404
        assert session.SESSION_COOKIE not in refused.headers.get("set-cookie", "")


async def test_a_deployments_own_sign_in_takes_over(monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(monkeypatch, KIPINA_DEV_SIGN_IN="false", KIPINA_SIGN_IN_URL="https://kipina.example/oauth2/start")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://unit") as c:
        response = await c.get("/sign-in", params={"next": "/"})
    assert (response.status_code, response.headers["location"]) == (303, "https://kipina.example/oauth2/start?next=%2F")


async def test_pages_are_not_in_the_openapi(monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _app(monkeypatch).openapi()["paths"]
    assert not {"/", "/sign-in", "/sign-out"} & set(paths)


def test_the_language_is_asked_then_remembered_then_the_users_then_the_browsers() -> None:
    assert choose_language(asked="sv", remembered="en", users=None, accept_language="fi") == "sv"
    assert choose_language(asked="xx", remembered="en", users=None, accept_language="fi") == "en"
    assert choose_language(asked=None, remembered=None, users=Language.SV, accept_language="en") == "sv"
    assert choose_language(asked=None, remembered=None, users=None, accept_language="de-DE,sv;q=0.8") == "sv"
    assert choose_language(asked=None, remembered=None, users=None, accept_language="") == "fi"
    assert from_accept_language("en-GB,en;q=0.9") == "en"


@pytest.mark.parametrize("value", [None, "", "https://evil.example", "//evil.example", "/\\evil.example"])
def test_only_local_paths_are_followed_after_sign_in(value: str | None) -> None:
    assert session.safe_next(value) == "/"
    assert session.safe_next("/cases?id=1") == "/cases?id=1"
