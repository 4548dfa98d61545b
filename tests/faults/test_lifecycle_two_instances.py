"""Two instances of every service at once, one of each SIGKILLed while cases flow through the whole lifecycle.

Every service runs twice (bench/pipeline.py ``second_instances``): the second instance shares the first's database
and consumer group and listens on another port; the driver (bench/lifecycle.py) talks to the first instances only,
so the second ones do what an instance does besides answering requests: consume their share of the partitions,
relay the outbox, and (notify) deliver. Once every second instance holds partitions (its log says so) and intake
shows cases in flight (a third submitted, some not done), all four second instances are SIGKILLed at once. The
first instances take their partitions over when the group rebalances (after the dead members' sessions time out)
and the cases flow on. Then:

- every case ended as planned, exactly once (published with its outcome, or rejected), and each case's status
  history in intake is in its fate's order (``lifecycle_faults.in_order``);
- nothing was processed twice: each case has exactly its review iterations and tasks (two with changes requested,
  else one) and its two jury assignments; no message was made into two deliveries, and every submitter heard
  exactly their cases' messages, counting each delivery once.

Delivery is at least once (docs/design.md): a message the SMTP server accepted from the killed notify just before
the kill, not yet recorded as delivered, is sent again once its lease expires, with the same Message-ID. The test
counts those as duplicates seen by users (a person may see them) and requires that every one was a delivery being
sent at the kill (``status = 'sending'`` in notify's database right after it) and that nothing else came twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections import Counter

import pytest

from bench import lifecycle, pipeline
from deploy.stack import SERVICES
from tests.faults.lifecycle_faults import (
    assigned_partitions,
    case_ids,
    cases_lost,
    duplicates_seen,
    out_of_order,
    rows,
    until_in_flight,
)
from tests.support.harness import eventually
from tests.support.reliability import Reliability

pytestmark = pytest.mark.faults

BASE_PORT = 18960
NAMES = tuple(s.name for s in SERVICES)


class KillSeconds:
    """Kills every second instance once they all hold partitions and cases are in flight."""

    def __init__(self, cases: int) -> None:
        self.cases = cases
        self.started: pipeline.Started | None = None
        self.killed: dict[str, int] = {}  # service → partitions its killed instance held
        self.at_kill: tuple[int, int] = (0, 0)
        self.sending_at_kill: set[str] = set()

    async def run(self, started: pipeline.Started) -> None:
        self.started = started

        async def all_hold_partitions() -> bool:
            return all(assigned_partitions(started.second_log(n)) > 0 for n in NAMES)

        await eventually(
            all_hold_partitions, timeout=120, interval=0.2, what="every second instance holding partitions"
        )
        self.at_kill = await until_in_flight(started, at_least=self.cases // 3, what="cases in flight")
        held = {n: assigned_partitions(started.second_log(n)) for n in NAMES}
        for name in NAMES:
            os.killpg(started.seconds[name].pid, signal.SIGKILL)
        for name in NAMES:
            code = await asyncio.to_thread(started.seconds[name].wait, 30)
            assert code == -signal.SIGKILL, (name, code)
            self.killed[name] = held[name]
        # Being sent now: the first instance's, which it finishes, and the dead one's, whose leases expire and which
        # are sent again — a message the SMTP server had accepted before the kill then arrives twice.
        found = await rows(started.databases["notify"], "SELECT id::text FROM deliveries WHERE status = 'sending'")
        self.sending_at_kill = {r["id"] for r in found}


async def test_two_instances_of_every_service_one_of_each_killed_mid_flow(reliability: Reliability) -> None:
    row = reliability.row(
        "Faults", "two instances of every service, one of each SIGKILLed mid-flow (the consumer groups rebalance)"
    )
    cases = 80 if reliability.soak else 24
    fault = KillSeconds(cases)
    result = await lifecycle.run(
        cases,
        2.0,
        base_port=BASE_PORT,
        seed=11,
        within_s=900,
        alongside=fault.run,
        # The second instances log their partition assignments (the first ones stay at WARNING); notify's lease is
        # short, so a delivery the killed instance had claimed is taken again soon rather than in two minutes.
        second_instances={name: {"KIPINA_LOG_LEVEL": "INFO"} for name in NAMES},
        extra_env={"KIPINA_NOTIFY_DELIVERY_LEASE_S": "10"},
    )
    assert fault.started is not None
    databases = fault.started.databases
    row.cases_driven = cases
    row.faults_injected = len(fault.killed)
    row.cases_lost = cases_lost(result)
    row.duplicates_seen = duplicates_seen(result)
    assert fault.started.mail is not None
    sent = Counter(r.delivery_id for r in fault.started.mail.received)
    resent = {d for d, n in sent.items() if n > 1}
    row.notes = f"killed with {fault.at_kill[0]} submitted, {fault.at_kill[1]} of them not done" + (
        f"; the duplicates: {len(resent)} e-mails the killed notify had sent and not recorded as sent, sent again "
        "with the same Message-ID (at least once)"
        if resent
        else ""
    )
    assert sorted(fault.killed) == sorted(NAMES), f"not every second instance was killed: {fault.killed}"
    assert all(held > 0 for held in fault.killed.values()), f"a killed instance held no partition: {fault.killed}"
    assert fault.at_kill[1] > 0 and fault.at_kill[0] < cases, f"the kill was not mid-flow: {fault.at_kill}"

    ids = case_ids(result)
    rounds = {lifecycle.CHANGES: 2}
    review = await rows(
        databases["review"],
        "SELECT case_id::text, count(*) AS n, (SELECT count(*) FROM review_tasks t WHERE t.case_id = i.case_id) AS"
        " tasks FROM iterations i WHERE case_id = ANY($1::uuid[]) GROUP BY case_id",
        ids,
    )
    worked = {r["case_id"]: (r["n"], r["tasks"]) for r in review}
    wrong = {
        c: worked.get(c)
        for c, fate in result["fate_of"].items()
        if worked.get(c) != (rounds.get(fate, 1), rounds.get(fate, 1))
    }
    assert not wrong, f"cases reviewed other than once per round (iterations, tasks): {wrong}"
    assignments = await rows(
        databases["awards"],
        "SELECT case_id::text, count(*) AS n FROM assignments WHERE case_id = ANY($1::uuid[]) GROUP BY case_id",
        ids,
    )
    juried = {r["case_id"]: r["n"] for r in assignments}
    nominated = {c for c, fate in result["fate_of"].items() if fate != lifecycle.REJECT}
    assert juried == dict.fromkeys(nominated, lifecycle.JURORS_PER_CASE), juried

    assert not out_of_order(result), out_of_order(result)
    assert result["facts"]["as_planned"], result["facts"]
    # Delivery is at least once (docs/design.md): the only repeats are deliveries the killed notify was sending,
    # each sent again as itself (same delivery id, same Message-ID); no message was made into two deliveries.
    repeated = result["deliveries"]["repeated"]
    assert repeated["same_message_to_one_person"] == repeated["same_delivery"], repeated
    assert resent <= fault.sending_at_kill, f"sent twice though not being sent at the kill: {resent}"
    assert result["facts"]["submitters_heard_each_delivery_as_expected"], json.dumps(result["submitters"])
    assert row.cases_lost == 0 and row.duplicates_seen == len(resent)
