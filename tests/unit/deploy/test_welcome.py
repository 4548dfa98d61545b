"""`make up`'s welcome text names where to sign in to the pages and each service's home page."""

from __future__ import annotations

import pytest

from deploy import demo
from shared import registry


def test_make_up_prints_the_sign_in_url_and_the_home_pages(capsys: pytest.CaptureFixture[str]) -> None:
    demo.main(with_demo=False)
    printed = capsys.readouterr().out
    assert f"{registry.INTAKE.url}/sign-in" in printed
    (homes,) = [line for line in printed.splitlines() if "home page" in line]
    assert homes.split(": ", 1)[1].split(", ") == [f"{part.url}/" for part in registry.PARTS]


def test_make_up_prints_each_services_dashboard_and_the_workbenches(capsys: pytest.CaptureFixture[str]) -> None:
    demo.main(with_demo=False)
    printed = capsys.readouterr().out
    (dashboards,) = [line for line in printed.splitlines() if "operator dashboards" in line]
    assert dashboards.split(": ", 1)[1].split(", ") == [f"{part.url}/ops" for part in registry.PARTS]
    (workbenches,) = [line for line in printed.splitlines() if "workbenches" in line]
    for url in ("/submitter/calls", "/reviewer", "/juror", "/operator/calls"):
        assert url in workbenches
