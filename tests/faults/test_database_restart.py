"""PostgreSQL stopped and started again while cases flow through the whole lifecycle: nothing lost, nothing doubled.

Once with a fast shutdown (``pg_ctl stop -m fast``: open transactions rolled back, every connection cut) and once
with SIGKILL of the postmaster (a crash: its backends exit by themselves, the next start recovers from the
write-ahead log). All four services' databases are on that server, so every service loses its database at once,
in the middle of HTTP requests, event handling, outbox relaying and e-mail delivery. The people of the lifecycle
(tests/faults/flow.py) take a 503 as "try again shortly". Afterwards every case reached its planned final state
exactly once and every person got each notification exactly once.
"""

from __future__ import annotations

import pytest

from deploy import local
from tests.faults.flow import flowing
from tests.support.reliability import Reliability

pytestmark = pytest.mark.faults

SHUTDOWNS = {
    "fast": "PostgreSQL stopped (fast shutdown) and restarted mid-flow",
    "kill": "PostgreSQL postmaster SIGKILLed and restarted mid-flow",
}


@pytest.mark.parametrize("shutdown", list(SHUTDOWNS))
async def test_database_restarted_mid_flow(infra_env, reliability: Reliability, shutdown: str) -> None:
    settings = local.load_settings()
    if not settings.manage_pg:
        pytest.skip("PostgreSQL is external; this test stops and starts the local server")
    row = reliability.row("Faults", SHUTDOWNS[shutdown])
    cases, rate = (240, 4.0) if reliability.soak else (24, 1.5)
    async with flowing(cases=cases, rate=rate) as flow:
        row.cases_driven = cases
        at = await flow.when(
            lambda p: p.reached_review >= 3 and p.in_flight >= 3 and p.submitted <= cases * 2 // 3,
            what="cases in flight, some in review, a third still to be submitted",
        )
        await flow.outage(
            stop=lambda: local.pg_stop(settings, kill=shutdown == "kill"),
            start=lambda: local.pg_start(settings),
            row=row,
        )
        row.notes = f"at {at.describe()}; people retried {flow.transport.retries} requests"
        settled = await flow.settle(timeout=600 if reliability.soak else 240)
        verdict = await flow.verdict()
    verdict.record_and_check(row, cases=cases, settled=settled)
