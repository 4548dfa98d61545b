"""The pure parts of the full-lifecycle benchmark (bench/lifecycle.py): the plan of fates, what each submitter
must hear, the facts read from intake's status history, requests per second; and its generated section."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from bench import report
from bench.lifecycle import (
    CHANGES,
    NOMINATE,
    OUTCOMES,
    REJECT,
    CasePlan,
    expected_by_submitter,
    expected_templates,
    facts_of,
    plan_cases,
    plan_of_seed,
    rates_per_service,
    repeated,
)
from bench.mailsink import Received


def test_the_plan_draws_fates_in_their_shares_and_takes_submitters_in_turn() -> None:
    plans = plan_cases(2000, random.Random(1), submitters=4, changes_share=0.3, reject_share=0.2)
    fates = Counter(p.fate for p in plans)
    assert 0.25 < fates[CHANGES] / 2000 < 0.35 and 0.15 < fates[REJECT] / 2000 < 0.25
    assert [p.submitter for p in plans[:6]] == [0, 1, 2, 3, 0, 1]
    assert all((p.outcome is None) == (p.fate == REJECT) for p in plans)
    assert {p.outcome for p in plans if p.outcome} == set(OUTCOMES)


def test_the_plan_is_the_seeds() -> None:
    assert plan_cases(20, random.Random(7)) == plan_cases(20, random.Random(7))
    assert [p.fate for p in plan_of_seed(5, 3)] == [CHANGES, REJECT, NOMINATE, NOMINATE, CHANGES]


def test_shares_beyond_one_are_refused() -> None:
    with pytest.raises(ValueError):
        plan_cases(1, random.Random(), changes_share=0.7, reject_share=0.5)


def test_what_a_submitter_hears_follows_the_fate() -> None:
    assert expected_templates(REJECT) == Counter(["case_submitted", "case_rejected"])
    assert expected_templates(NOMINATE) == Counter(["case_submitted", "case_nominated", "results_published"])
    assert expected_templates(CHANGES) == expected_templates(NOMINATE) + Counter(
        ["changes_requested", "revision_received"]
    )
    plans = [CasePlan(0, 0, NOMINATE, "finalist"), CasePlan(1, 1, REJECT, None), CasePlan(2, 0, REJECT, None)]
    assert expected_by_submitter(plans) == {
        0: expected_templates(NOMINATE) + expected_templates(REJECT),
        1: expected_templates(REJECT),
    }


def test_facts_count_each_case_ending_once_as_planned() -> None:
    plans = {
        "a": CasePlan(0, 0, NOMINATE, "finalist"),
        "b": CasePlan(1, 0, CHANGES, "award_winner"),
        "c": CasePlan(2, 0, REJECT, None),
    }
    history = {
        "a": ["submitted", "in_review", "in_evaluation", "published"],
        "b": ["submitted", "in_review", "changes_requested", "in_review", "in_evaluation", "published"],
        "c": ["submitted", "in_review", "rejected"],
    }
    outcomes = {"a": "finalist", "b": "award_winner", "c": None}
    assert facts_of(plans, history, outcomes) == {
        "cases": 3,
        "published_once_with_outcome": 2,
        "rejected_once": 1,
        "not_as_planned": 0,
        "as_planned": True,
    }
    twice = {**history, "a": [*history["a"], "published"]}
    assert facts_of(plans, twice, outcomes)["not_as_planned"] == 1
    wrong = {**outcomes, "b": "finalist"}
    assert facts_of(plans, history, wrong)["published_once_with_outcome"] == 1
    assert facts_of(plans, {**history, "c": ["submitted"]}, outcomes)["as_planned"] is False


def test_repeated_counts_a_delivery_sent_again_and_a_message_a_person_got_twice() -> None:
    once = Received("a@x", "case_submitted", "c1", "d1")
    other_person = Received("b@x", "case_submitted", "c1", "d2")
    resent = Received("a@x", "case_submitted", "c1", "d1")  # the same delivery again (notify crashed after SMTP)
    twice = Received("a@x", "case_submitted", "c1", "d3")  # a second delivery of one message (an event twice)
    assert repeated([once, other_person]) == {"same_delivery": 0, "same_message_to_one_person": 0}
    assert repeated([once, other_person, resent]) == {"same_delivery": 1, "same_message_to_one_person": 1}
    assert repeated([once, other_person, twice]) == {"same_delivery": 0, "same_message_to_one_person": 1}


def test_requests_per_second_per_service() -> None:
    assert rates_per_service({"review": 30, "intake": 12}, 6.0) == {"intake": 2.0, "review": 5.0}


def _life() -> dict[str, Any]:
    summary = {"count": 4, "p50": 900.0, "p95": 1500.0, "p99": 1600.0, "p99.9": 1600.0, "mean": 1000.0}
    return {
        "cases": 5,
        "rate": 2.0,
        "fates": {"nominate": 2, "changes": 2, "reject": 1},
        "completed": 5,
        "completed_per_s": 0.8,
        "latency_ms": {"to_published": summary, "to_rejected": {"count": 1, "p50": 300.0}},
        "requests": {"intake": 12, "review": 40},
        "requests_per_s": {"intake": 2.0, "review": 6.7},
        "cpu_s": {"intake": 0.5, "notify": 0.2, "total": 0.7},
        "cpu_ms_per_completed_case": 140.0,
        "deliveries": {"notify": {"delivered": 30, "failed": 0, "pending": 0}, "smtp_received": 30},
        "facts": {"as_planned": True, "submitters_heard_as_expected": True},
    }


def test_the_section_shows_the_lifecycle_only_when_it_ran() -> None:
    base: dict[str, Any] = {"machine": {}, "arguments": {}}
    assert "full lifecycle" not in report.section(base, plot_link="x.png")
    text = report.section({**base, "lifecycle": _life()}, plot_link="x.png")
    assert "**0.80 cases/s** completed" in text
    assert "| submission → published | 4 | 900 | 1,500 | 1,600 | 1,600 |" in text
    assert "| review | 40 | 6.70 | — |" in text and "| notify | — | — | 0.20 |" in text
    assert "30 delivered, 0 failed, 0 pending; the SMTP server received 30 (— per completed case)" in text
