"""The table of docs/RELIABILITY.md, written by the tests that prove it (a pytest plugin).

A fault, fuzz or attack test asks for the ``reliability`` fixture and fills in its row as it learns the facts::

    async def test_broker_killed(reliability: Reliability) -> None:
        row = reliability.row("Faults", "one of three brokers SIGKILLed mid-flow, then another")
        row.cases_driven = len(plans)
        row.faults_injected += 1          # each time the fault is injected
        ...
        row.cases_lost = len(missing)     # counted, never assumed: the assertions below check them
        row.duplicates_seen = duplicates
        assert not missing and not duplicates

The row's result is the test's own outcome (passed, failed, skipped), taken from pytest's report, so a failing
scenario is written down as failed with whatever it had counted. At the end of the session the rows of this run
replace their earlier selves in ``docs/reliability/results.json`` (rows this run did not reach keep the date and
commit of the run that wrote them) and the table between the markers of ``docs/RELIABILITY.md`` is written again
from it. A run that recorded no row writes nothing.

``pytest --soak`` asks for the long size; a test reads it as ``reliability.soak`` (or the ``soak`` fixture)
and its rows say which size they ran.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "docs" / "reliability" / "results.json"
DOCUMENT = REPO / "docs" / "RELIABILITY.md"
BEGIN = "<!-- reliability-table:begin (written by the tests: tests/support/reliability.py) -->"
END = "<!-- reliability-table:end -->"
GROUPS = ("Faults", "Bad input", "Access control and secrets", "Beyond one machine")

_ROWS = pytest.StashKey[list["Row"]]()


@dataclasses.dataclass
class Row:
    """One scenario of the table. Counts start at zero; the test sets what it measured."""

    group: str
    scenario: str
    test: str
    size: str
    cases_driven: int = 0
    faults_injected: int = 0
    cases_lost: int = 0
    duplicates_seen: int = 0
    fuzz_cases: int = 0
    result: str = "not finished"
    notes: str = ""

    def key(self) -> str:
        return f"{self.group} / {self.scenario}"


class Reliability:
    """The rows one test records (see the module's docstring)."""

    def __init__(self, *, test: str, soak: bool, rows: list[Row]) -> None:
        self._test = test
        self.soak = soak
        self._rows = rows
        self.mine: list[Row] = []

    def row(self, group: str, scenario: str) -> Row:
        if group not in GROUPS:
            raise ValueError(f"group {group!r} is not one of {GROUPS}")
        row = Row(group=group, scenario=scenario, test=self._test, size="soak" if self.soak else "quick")
        self.mine.append(row)
        self._rows.append(row)
        return row


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak",
        action="store_true",
        default=False,
        help="run the fault, fuzz and attack scenarios at their long size (docs/RELIABILITY.md)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_ROWS] = []


@pytest.fixture(scope="session")
def soak(pytestconfig: pytest.Config) -> bool:
    """True under ``pytest --soak``: the long size of each scenario."""
    return bool(pytestconfig.getoption("--soak"))


@pytest.fixture
def reliability(request: pytest.FixtureRequest, soak: bool) -> Reliability:
    recorder = Reliability(test=request.node.nodeid, soak=soak, rows=request.config.stash[_ROWS])
    request.node.stash[_RECORDER] = recorder
    return recorder


_RECORDER = pytest.StashKey[Reliability]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    recorder = item.stash.get(_RECORDER, None)
    if recorder is not None:
        # A failure in setup or teardown fails the scenario too; "passed" needs the call itself to pass.
        for row in recorder.mine:
            if report.failed:
                row.result = "failed"
            elif report.skipped:
                row.result = "skipped"
            elif report.when == "call" and row.result == "not finished":
                row.result = "passed"
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    rows = session.config.stash.get(_ROWS, [])
    if rows:
        write(rows)


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True, timeout=10
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def write(
    rows: list[Row], *, results: Path | None = None, document: Path | None = None, when: datetime | None = None
) -> None:
    """Merge this run's rows into ``results`` and write the table of ``document`` again from it."""
    results = results or RESULTS
    document = document or DOCUMENT
    stamp = (when or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    known: dict[str, dict[str, Any]] = {}
    if results.exists():
        known = {entry["key"]: entry for entry in json.loads(results.read_text(encoding="utf-8"))}
    commit = _commit()
    for row in rows:
        known[row.key()] = {"key": row.key(), **dataclasses.asdict(row), "run": stamp, "commit": commit}
    ordered = sorted(known.values(), key=lambda e: (GROUPS.index(e["group"]) if e["group"] in GROUPS else 99, e["key"]))
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(ordered, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if document.exists():
        text = document.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            document.write_text(head + BEGIN + "\n" + table(ordered) + END + tail, encoding="utf-8")


def table(entries: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for group in [g for g in GROUPS if any(e["group"] == g for e in entries)]:
        lines += [
            "",
            f"### {group}",
            "",
            "| scenario | size | cases driven | faults injected | cases lost | duplicates seen by users "
            "| fuzz cases | result | run | test |",
            "|---|---|---:|---:|---:|---:|---:|---|---|---|",
        ]
        for e in (e for e in entries if e["group"] == group):
            scenario = e["scenario"] + (f" — {e['notes']}" if e.get("notes") else "")
            lines.append(
                f"| {scenario} | {e['size']} | {e['cases_driven']} | {e['faults_injected']} | {e['cases_lost']} "
                f"| {e['duplicates_seen']} | {e['fuzz_cases']} | **{e['result']}** | {e['run']}, `{e['commit']}` "
                f"| `{e['test']}` |"
            )
    return "\n".join(lines) + "\n\n"
