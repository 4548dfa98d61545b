"""The RELIABILITY.md table: rows merged by scenario, the table rewritten between its markers, outcomes from pytest."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.reliability import BEGIN, END, Row, write

pytest_plugins = ["pytester"]


def _document(tmp_path: Path) -> Path:
    doc = tmp_path / "RELIABILITY.md"
    doc.write_text(f"# head\n\n{BEGIN}\nold table\n{END}\n\n## promises\n", encoding="utf-8")
    return doc


def test_rows_replace_their_earlier_selves_and_others_are_kept(tmp_path: Path) -> None:
    results, doc = tmp_path / "results.json", _document(tmp_path)
    first = [
        Row(group="Faults", scenario="broker killed", test="t::a", size="quick", cases_driven=10, result="passed"),
        Row(group="Bad input", scenario="fuzz", test="t::b", size="quick", fuzz_cases=500, result="passed"),
    ]
    write(first, results=results, document=doc, when=datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    again = [
        Row(
            group="Faults",
            scenario="broker killed",
            test="t::a",
            size="soak",
            cases_driven=99,
            cases_lost=1,
            result="failed",
        )
    ]
    write(again, results=results, document=doc, when=datetime(2026, 11, 25, 11, 0, tzinfo=UTC))

    entries = {e["key"]: e for e in json.loads(results.read_text(encoding="utf-8"))}
    assert set(entries) == {"Faults / broker killed", "Bad input / fuzz"}
    assert entries["Faults / broker killed"]["cases_driven"] == 99
    assert entries["Faults / broker killed"]["run"] == "2026-11-25 11:00 UTC"
    assert entries["Bad input / fuzz"]["run"] == "2026-11-25 10:00 UTC"

    text = doc.read_text(encoding="utf-8")
    assert "old table" not in text
    assert text.startswith("# head") and text.rstrip().endswith("## promises")
    assert text.index("### Faults") < text.index("### Bad input")
    assert "| broker killed | soak | 99 | 0 | 1 | 0 | 0 | **failed** |" in text
    assert "| fuzz | quick | 0 | 0 | 0 | 0 | 500 | **passed** |" in text


def test_an_unknown_group_is_refused() -> None:
    from tests.support.reliability import Reliability

    with pytest.raises(ValueError, match="not one of"):
        Reliability(test="t", soak=False, rows=[]).row("Misc", "x")


def test_the_row_takes_the_tests_outcome(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tests.support.reliability as plugin

    # The inner run imports the same module (in process); monkeypatch puts the real paths back afterwards.
    results = tmp_path / "results.json"
    monkeypatch.setattr(plugin, "RESULTS", results)
    monkeypatch.setattr(plugin, "DOCUMENT", tmp_path / "absent.md")
    pytester.makepyfile(
        """
def test_good(reliability):
    row = reliability.row("Faults", "good")
    row.cases_driven = 3

def test_bad(reliability):
    row = reliability.row("Faults", "bad")
    row.cases_lost = 1
    assert row.cases_lost == 0

def test_soak_size(reliability):
    reliability.row("Faults", "sized")
"""
    )
    outcome = pytester.runpytest_inprocess("-p", "tests.support.reliability", "--soak")
    outcome.assert_outcomes(passed=2, failed=1)
    entries = {e["scenario"]: e for e in json.loads(results.read_text(encoding="utf-8"))}
    assert entries["good"]["result"] == "passed" and entries["good"]["cases_driven"] == 3
    assert entries["bad"]["result"] == "failed" and entries["bad"]["cases_lost"] == 1
    assert entries["sized"]["size"] == "soak"
