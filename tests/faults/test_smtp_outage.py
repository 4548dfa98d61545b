"""Notify's SMTP server away for a while, then back, while cases flow through the whole lifecycle.

Notify's mail server is bench/mailsink.py's real SMTP server, stopped and started again on the same port. Its
delivery retries are set short for the test (``KIPINA_NOTIFY_DELIVERY_BACKOFF_BASE_S`` 0.2 s, at most 1 s apart,
and enough attempts that none gives up during the outage; services/notify/worker.py). Once the server has received
mail and cases are in flight, it is stopped; once notify has tried, and failed, at least three times for several
deliveries (its database shows them pending again with their attempts and the connection error), it is started
again. Then:

- every delivery of the run is ``delivered`` (none pending or failed), and those that were refused show it: more
  than one attempt each; their messages arrived exactly once;
- every case ended as planned exactly once, and every submitter heard exactly their cases' messages, nobody any
  message twice: nothing was lost to the outage and nothing doubled by the retries.
"""

from __future__ import annotations

import json

import pytest

from bench import lifecycle, pipeline
from tests.faults.lifecycle_faults import cases_lost, duplicates_seen, out_of_order, rows, until_in_flight
from tests.support.harness import eventually
from tests.support.reliability import Reliability

pytestmark = pytest.mark.faults

BASE_PORT = 19000
RETRIED_DURING_OUTAGE = 5  # deliveries refused at least three times before the server comes back
RETRY_ENV = {
    "KIPINA_NOTIFY_DELIVERY_BACKOFF_BASE_S": "0.2",
    "KIPINA_NOTIFY_DELIVERY_BACKOFF_MAX_S": "1.0",
    "KIPINA_NOTIFY_DELIVERY_MAX_ATTEMPTS": "10000",  # none gives up during the outage
    "KIPINA_NOTIFY_SMTP_TIMEOUT_S": "2",
}


class SmtpOutage:
    """Stops notify's mail server mid-flow and starts it again once notify has been refused."""

    def __init__(self, cases: int) -> None:
        self.cases = cases
        self.started: pipeline.Started | None = None
        self.received_before = 0
        self.refused_at_return: list[dict[str, object]] = []
        self.back = False

    async def run(self, started: pipeline.Started) -> None:
        self.started = started
        mail = started.mail
        assert mail is not None

        async def mail_flowing() -> bool:
            return mail.count() > 0

        await eventually(mail_flowing, timeout=300, interval=0.1, what="notify delivering mail")
        await until_in_flight(started, at_least=self.cases // 4, what="cases in flight")
        mail.stop()
        self.received_before = mail.count()

        async def refused_thrice() -> list[dict[str, object]] | None:
            # Pending again after its attempts (a delivery being sent has counted an attempt not yet refused).
            found = await rows(
                started.databases["notify"],
                "SELECT id::text, attempts, last_error FROM deliveries WHERE status = 'pending'"
                " AND attempts >= 3 AND last_error IS NOT NULL",
            )
            return [dict(r) for r in found] if len(found) >= RETRIED_DURING_OUTAGE else None

        refused = await eventually(refused_thrice, timeout=300, interval=0.2, what="deliveries refused and retried")
        self.refused_at_return = refused or []
        mail.start()  # the same port
        self.back = True


async def test_smtp_server_away_then_back_every_email_delivered_once(reliability: Reliability) -> None:
    row = reliability.row("Faults", "notify's SMTP server down for a while mid-flow, then back")
    cases = 80 if reliability.soak else 24
    fault = SmtpOutage(cases)
    result = await lifecycle.run(
        cases, 2.0, base_port=BASE_PORT, seed=17, within_s=900, alongside=fault.run, extra_env=RETRY_ENV
    )
    assert fault.started is not None
    deliveries = await rows(
        fault.started.databases["notify"], "SELECT id::text, status, attempts, last_error FROM deliveries"
    )
    retried = [d for d in deliveries if d["attempts"] > 1]
    refused_attempts = sum(d["attempts"] - 1 for d in deliveries)

    row.cases_driven = cases
    row.faults_injected = 1 if fault.back else 0
    row.cases_lost = cases_lost(result)
    row.duplicates_seen = duplicates_seen(result)
    row.notes = f"{refused_attempts} attempts refused, {len(retried)} deliveries retried"

    assert fault.back, "the server never came back"
    assert all(d["last_error"] for d in fault.refused_at_return), "a refused delivery without its error"
    not_delivered = [dict(d) for d in deliveries if d["status"] != "delivered"]
    assert not not_delivered, f"deliveries not delivered in the end: {not_delivered[:3]}"
    # The failed-then-delivered history: what was refused during the outage was delivered later, once.
    refused_ids = {str(d["id"]) for d in fault.refused_at_return}
    attempts = {d["id"]: d["attempts"] for d in deliveries}
    assert all(attempts[d] >= 4 for d in refused_ids), "a delivery refused three times delivered in fewer attempts"
    assert all(d["last_error"] is None for d in retried), "a delivered delivery still shows an error"
    assert fault.started.mail is not None
    arrived = [r.delivery_id for r in fault.started.mail.received]
    assert all(arrived.count(d) == 1 for d in refused_ids), "a refused delivery arrived other than once"
    assert result["deliveries"]["notify"]["failed"] == 0 and result["deliveries"]["notify"]["pending"] == 0
    assert result["deliveries"]["smtp_received"] == len(deliveries), (result["deliveries"], len(deliveries))

    assert not out_of_order(result), out_of_order(result)
    assert result["facts"]["as_planned"], result["facts"]
    assert result["deliveries"]["repeated"] == {"same_delivery": 0, "same_message_to_one_person": 0}
    assert result["facts"]["submitters_heard_as_expected"], json.dumps(result["submitters"])
    assert row.cases_lost == 0 and row.duplicates_seen == 0
