"""A real headless Chromium (Playwright, the system browser) and a running service for the browser tests.

The browser is Debian's ``chromium`` (``make browser`` installs it: deploy/install-chromium.sh), launched with
``executable_path``; ``KIPINA_CHROMIUM`` names another binary. Playwright's own browser download is never used.
The service is intake, served by uvicorn on a free 127.0.0.1 port inside the tests' event loop, against the real
Kafka and PostgreSQL (tests/conftest.py), with one test-only page that needs the operator role.
``screenshot(page, name)`` writes ``docs/screenshots/<name>.png``; the README shows the main ones.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import Depends, FastAPI
from fastapi.responses import Response
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from shared.vocabulary import Role
from shared.web.pages import Page as KipinaPage
from shared.web.pages import page_for
from tests.support.infra import own_database, reset_database, unique_group
from tests.support.kafka import pin_group_to_end

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "screenshots"
CHROMIUM = os.environ.get("KIPINA_CHROMIUM", "/usr/bin/chromium")
OPERATORS_ONLY = "/test-only/operators"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path):
            item.add_marker(pytest.mark.browser)


async def screenshot(page: Page, name: str) -> Path:
    """The whole page as ``docs/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"no browser at {CHROMIUM}: run `make browser` (deploy/install-chromium.sh installs Debian's chromium) "
            "or set KIPINA_CHROMIUM to a Chromium binary"
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        await launched.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
async def intake_url(infra_env: dict[str, str]) -> AsyncIterator[str]:
    """Intake with its pages, running (migrations, Kafka consumer, outbox relay) on a free port."""
    database = await own_database(infra_env, "intake", "browser_intake")
    await reset_database(database)
    port = _free_port()
    env = {
        "KIPINA_DEV_SIGN_IN": "true",
        "KIPINA_INTAKE_DATABASE_URL": database,
        "KIPINA_INTAKE_CONSUMER_GROUP": unique_group("browser-intake"),
        "KIPINA_INTAKE_PORT": str(port),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from services.intake.app import create

    app = create()

    # The role check of pages, on a page of the tests only: no operator page ships yet, and none is faked.
    @app.get(OPERATORS_ONLY, include_in_schema=False)
    async def operators_only(page: KipinaPage = Depends(page_for(Role.OPERATOR))) -> Response:
        return page.render("message.html.j2", title_key="roles", message_key="roles")

    async with served(app, port):
        yield f"http://127.0.0.1:{port}"
    _restore(saved)


def _restore(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@asynccontextmanager
async def served(app: FastAPI, port: int) -> AsyncIterator[None]:
    """``app`` served by uvicorn on 127.0.0.1:``port`` inside the tests' event loop, until the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # a fact: uvicorn has run the lifespan and is listening
        if serving.done():
            serving.result()
            pytest.fail(f"{app.title} stopped before it served")
        await asyncio.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        await serving


@pytest.fixture
async def review_url(infra_env: dict[str, str], intake_url: str) -> AsyncIterator[str]:
    """Review with its pages, running beside intake for one test. Its consumer group starts at the topics' current
    end, so it reviews only the cases submitted during the test (not those other browser tests left behind)."""
    from services.review.app import create
    from shared.topics import INTAKE

    database = await own_database(infra_env, "review", "browser_review")
    await reset_database(database)
    group = unique_group("browser-review")
    await pin_group_to_end(infra_env["KIPINA_KAFKA_BOOTSTRAP"], group, [INTAKE])
    port = _free_port()
    env = {
        "KIPINA_DEV_SIGN_IN": "true",
        "KIPINA_REVIEW_DATABASE_URL": database,
        "KIPINA_REVIEW_CONSUMER_GROUP": group,
        "KIPINA_REVIEW_PORT": str(port),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        app = create()
    finally:
        _restore(saved)
    async with served(app, port):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
async def context(browser: Browser, intake_url: str) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (no cookies) whose browser prefers Finnish."""
    fresh = await browser.new_context(base_url=intake_url, locale="fi-FI", viewport={"width": 1024, "height": 720})
    yield fresh
    await fresh.close()


@pytest.fixture
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    opened = await context.new_page()
    yield opened
    await opened.close()
