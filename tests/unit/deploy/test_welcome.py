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
