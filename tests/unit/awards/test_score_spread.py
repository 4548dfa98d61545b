"""The inter-rater spread of a case: how far apart its jurors' weighted scores are, and when that is large."""

from __future__ import annotations

import uuid

import pytest

from services.awards import domain
from services.awards.domain import DEFAULT_CRITERIA, LARGE_SPREAD_SHARE, ScoredCase
from shared.events import Criterion


def all_default(value: int) -> dict[str, int]:
    return {c.key: value for c in DEFAULT_CRITERIA}


def test_the_spread_is_lowest_highest_and_population_sd_of_the_weighted_scores_widest_first() -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    cases = [
        ScoredCase(a, "A", "education", DEFAULT_CRITERIA, 3, {"j1": all_default(3), "j2": all_default(4)}),
        ScoredCase(
            b, "B", "education", DEFAULT_CRITERIA, 3, {"j1": all_default(1), "j2": all_default(4), "j3": all_default(4)}
        ),
        ScoredCase(c, "C", "education", DEFAULT_CRITERIA, 2, {"j1": all_default(5)}),  # one juror: no spread
    ]
    first, second = domain.score_spread(cases)
    assert (first.case_id, first.jurors_scored, first.lowest, first.highest) == (b, 3, 1.0, 4.0)
    assert first.sd == pytest.approx(2**0.5)  # mean 3: deviations −2, 1, 1
    assert first.large
    assert (second.case_id, second.lowest, second.highest, second.sd) == (a, 3.0, 4.0, 0.5)
    assert not second.large  # one point of five is under a quarter of the scale


def test_a_range_of_a_quarter_of_the_scale_or_more_is_large() -> None:
    assert LARGE_SPREAD_SHARE == 0.25
    criteria = (Criterion(key="k", name="K", weight=1.0, scale_min=0, scale_max=8),)
    at_threshold = ScoredCase(uuid.uuid4(), "T", "education", criteria, 2, {"j1": {"k": 3}, "j2": {"k": 5}})
    under = ScoredCase(uuid.uuid4(), "U", "education", criteria, 2, {"j1": {"k": 3}, "j2": {"k": 4}})
    spreads = {s.title: s for s in domain.score_spread([at_threshold, under])}
    assert spreads["T"].large and not spreads["U"].large
