"""The domain section of the operator dashboard is part of the live figures, and shows each kind of cell: a word in
the page's language, a duration, a time, a number, nothing (in-process, no lifespan, no database)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shared.demo import demo_token
from shared.glance import Glance, Label, Word
from shared.runtime import Runtime
from shared.settings import ServiceSettings
from shared.web import session
from tests.unit.shared.test_ops_page import _DownBroker, _DownPool


async def _glances(runtime: Runtime) -> Sequence[Glance]:
    return [
        Glance(
            caption="glance_time_in_stage",
            columns=("glance_stage", "glance_median", "glance_longest", "glance_moved_on", "glance_longest_waiting"),
            rows=[
                (Word("sub.status.in_review"), timedelta(seconds=42), timedelta(days=2, hours=3, minutes=4), 7, None),
                (Word("glance_spread_large"), datetime(2027, 3, 1, 12, 30, tzinfo=UTC), 2.5, "text", None),
                (Label("category", "health_care"), Label("category", "no_such_code"), 0, "", None),
            ],
            test_id="cells",
        )
    ]


@pytest.mark.parametrize(
    ("lang", "in_review", "days", "large", "health"),
    [
        ("en", "In review", "2 d 03:04:00", "⚠ Large: talk it over before deciding", "Health and social care"),
        (
            "fi",
            "Arvioitavana",
            "2 vrk 03:04:00",
            "⚠ Suuri: keskustelkaa ennen päätöstä",
            "Sosiaali- ja terveydenhuolto",
        ),
    ],
)
async def test_the_live_figures_carry_the_domain_section_with_every_kind_of_cell(
    monkeypatch: pytest.MonkeyPatch, lang: str, in_review: str, days: str, large: str, health: str
) -> None:
    monkeypatch.setenv("KIPINA_DEV_SIGN_IN", "true")
    from services.intake.app import create

    app = create()
    app.state.runtime.pool = _DownPool()
    app.state.broker = _DownBroker()
    app.state.dashboard = _glances
    settings: ServiceSettings = app.state.settings
    cookies = {session.SESSION_COOKIE: demo_token("operator", settings=settings, ttl=session.SESSION_TTL)}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://unit", cookies=cookies
    ) as client:
        page = await client.get(f"/ops?lang={lang}")
        live = await client.get(f"/ops/live?lang={lang}")
    assert page.status_code == live.status_code == 200
    for html in (page.text, live.text):
        assert html.count('data-testid="glance-cells"') == 1
        assert f"<td>{in_review}</td>" in html
        assert '<td class="num">00:00:42</td>' in html
        assert f'<td class="num">{days}</td>' in html
        assert '<td class="num">7</td><td>–</td>' in html
        assert f"<td>{large}</td>" in html
        assert "<td>2027-03-01 12:30 UTC</td>" in html
        assert '<td class="num">2.5</td><td>text</td>' in html
        # A vocabulary's value in the page's language; a code it has no words for as it is.
        assert f"<td>{health}</td><td>no_such_code</td>" in html
