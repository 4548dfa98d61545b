"""What the whole-lifecycle fault scenarios share: reading the services' databases, telling a case in flight, and
the counts of a reliability row from bench/lifecycle.py's result.

A scenario runs ``lifecycle.run(..., alongside=fault)``: the fault coroutine gets the started services once the
call is open and injects its fault when a fact says cases are in flight (never after a sleep); the lifecycle's
facts then say whether every case ended as planned exactly once and every person heard each message once.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg

from bench import lifecycle, pipeline
from tests.support.harness import eventually

CASES_DONE = ("published", "rejected")


async def rows(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def in_flight(started: pipeline.Started) -> tuple[int, int]:
    """(cases submitted, of those not yet done), by intake's database, over every call of this run's database."""
    found = await rows(
        started.databases["intake"],
        "SELECT count(*) AS submitted, count(*) FILTER (WHERE status <> ALL($1::text[])) AS open FROM cases",
        list(CASES_DONE),
    )
    return int(found[0]["submitted"]), int(found[0]["open"])


async def until_in_flight(started: pipeline.Started, *, at_least: int, what: str) -> tuple[int, int]:
    """Wait for the fact: at least ``at_least`` cases submitted and some of them not yet done."""

    async def flowing() -> tuple[int, int] | None:
        submitted, open_ = await in_flight(started)
        return (submitted, open_) if submitted >= at_least and open_ > 0 else None

    found = await eventually(flowing, timeout=300, interval=0.1, what=what)
    assert found is not None
    return found


def cases_lost(result: dict[str, Any]) -> int:
    """Cases that did not end as planned exactly once (published with their outcome, or rejected)."""
    facts = result["facts"]
    return int(facts["cases"] - facts["published_once_with_outcome"] - facts["rejected_once"])


def duplicates_seen(result: dict[str, Any]) -> int:
    """Messages a person received beyond what they should: a submitter's beyond their cases' fates, and anyone's
    same message about the same case again (a delivery sent twice, or a message delivered twice)."""
    extra_for_submitters = 0
    for heard in result["submitters"].values():
        extra_for_submitters += sum((Counter(heard["heard"]) - Counter(heard["expected"])).values())
    again = int(result["deliveries"]["repeated"]["same_message_to_one_person"])
    return max(extra_for_submitters, again)  # a submitter's repeat is in both counts


def out_of_order(result: dict[str, Any]) -> dict[str, list[str]]:
    """Cases whose status history (intake's ``case_status_history``) breaks the order its fate gives: submitted
    first; changes requested, then revised, before the nomination; never a status twice in a row of one kind that
    a single event makes (a doubled event would add it again); ending in its final status."""
    wrong: dict[str, list[str]] = {}
    for case_id, fate in result["fate_of"].items():
        statuses = result["history"].get(case_id, [])
        if not in_order(fate, statuses):
            wrong[case_id] = statuses
    return wrong


def in_order(fate: str, statuses: list[str]) -> bool:
    """``statuses`` a possible history of a case of ``fate`` (see ``out_of_order``)."""
    if not statuses or statuses[0] != "submitted" or statuses.count("submitted") != 1:
        return False
    final = "rejected" if fate == lifecycle.REJECT else "published"
    if statuses[-1] != final or statuses.count(final) != 1:
        return False
    once = ["changes_requested", "revised"] if fate == lifecycle.CHANGES else []
    if any(statuses.count(s) != 1 for s in once):
        return False
    if fate != lifecycle.CHANGES and ("changes_requested" in statuses or "revised" in statuses):
        return False
    if fate == lifecycle.CHANGES:
        asked, revised = statuses.index("changes_requested"), statuses.index("revised")
        nominated = statuses.index("nominated") if "nominated" in statuses else len(statuses) - 1
        if not asked < revised < nominated:
            return False
    return all(statuses.count(s) <= 1 for s in ("nominated", "in_evaluation", "decided"))


def json_lines(path: Path) -> list[dict[str, Any]]:
    """A service log's complete JSON lines (a line cut short by a kill is not a fact)."""
    if not path.exists():
        return []
    found = []
    for line in path.read_text(errors="replace").split("\n")[:-1]:
        try:
            found.append(json.loads(line))
        except ValueError:
            continue
    return found


def assigned_partitions(log: Path) -> int:
    """How many partitions the latest assignment in a service's log gave it (0 before any)."""
    latest = 0
    for line in json_lines(log):
        if line.get("event") == "partitions assigned":
            latest = len(line.get("partitions") or [])
    return latest


def case_ids(result: dict[str, Any]) -> list[uuid.UUID]:
    return [uuid.UUID(c) for c in result["fate_of"]]
