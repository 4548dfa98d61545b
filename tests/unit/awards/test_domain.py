"""Awards' pure rules: weighted scores, z-normalisation, conflicts, juror assignment, score validation, status."""

from __future__ import annotations

import uuid

import pytest

from services.awards import domain
from services.awards.domain import (
    DEFAULT_CRITERIA,
    EvaluationAction,
    EvaluationStatus,
    InvalidTransition,
    JurorProfile,
    ScoredCase,
    ScoreEntry,
)
from shared.errors import Conflict
from shared.events import Criterion, criteria_problems

CASE = uuid.UUID("00000000-0000-0000-0000-00000000000a")


def scores(**values: int) -> dict[str, int]:
    return values


def all_default(value: int) -> dict[str, int]:
    return {c.key: value for c in DEFAULT_CRITERIA}


# --------------------------------------------------------------------------- weighted score


def test_default_criteria_are_the_quality_innovation_award_five() -> None:
    assert [c.key for c in DEFAULT_CRITERIA] == [
        "novelty",
        "usefulness",
        "learning",
        "customer_orientation",
        "effectiveness",
    ]
    assert all(c.weight == 1.0 and (c.scale_min, c.scale_max) == (0, 5) for c in DEFAULT_CRITERIA)


def test_weighted_score_with_equal_weights_is_the_mean() -> None:
    given = {"novelty": 5, "usefulness": 4, "learning": 3, "customer_orientation": 2, "effectiveness": 1}
    assert domain.weighted_score(DEFAULT_CRITERIA, given) == pytest.approx(3.0)


def test_weighted_score_respects_weights() -> None:
    criteria = [
        Criterion(key="a", name="A", weight=3.0, scale_min=0, scale_max=5),
        Criterion(key="b", name="B", weight=1.0, scale_min=0, scale_max=5),
    ]
    # (3·4 + 1·0) / 4 = 3
    assert domain.weighted_score(criteria, scores(a=4, b=0)) == pytest.approx(3.0)


def test_weighted_score_on_mixed_scales_uses_each_criterions_share() -> None:
    criteria = [
        Criterion(key="a", name="A", weight=1.0, scale_min=0, scale_max=10),
        Criterion(key="b", name="B", weight=1.0, scale_min=0, scale_max=5),
    ]
    # a = 10/10 = 1.0, b = 0/5 = 0.0 → mean 0.5 of the reference scale 0..10
    assert domain.weighted_score(criteria, scores(a=10, b=0)) == pytest.approx(5.0)


def test_weighted_score_with_non_zero_scale_min() -> None:
    criteria = [Criterion(key="a", name="A", weight=1.0, scale_min=1, scale_max=7)]
    assert domain.weighted_score(criteria, scores(a=4)) == pytest.approx(4.0)


# --------------------------------------------------------------------------- z-normalisation


def test_z_normalise() -> None:
    z = domain.z_normalise([1.0, 3.0])
    assert z == pytest.approx([-1.0, 1.0])
    z = domain.z_normalise([2.0, 4.0, 6.0])
    assert sum(z) == pytest.approx(0.0)
    assert z[0] == pytest.approx(-1.224744871)


def test_z_normalise_single_score_or_no_spread_gives_zero() -> None:
    assert domain.z_normalise([4.0]) == [0.0]
    assert domain.z_normalise([3.0, 3.0, 3.0]) == [0.0, 0.0, 0.0]
    assert domain.z_normalise([]) == []


def test_normalisation_removes_a_harsh_jurors_bias() -> None:
    # Juror "harsh" scores everything 2 points lower but in the same order as "kind".
    a, b = uuid.uuid4(), uuid.uuid4()
    cases = [
        ScoredCase(a, "A", "public_sector", DEFAULT_CRITERIA, 2, {"kind": all_default(5), "harsh": all_default(3)}),
        ScoredCase(b, "B", "public_sector", DEFAULT_CRITERIA, 2, {"kind": all_default(4), "harsh": all_default(2)}),
    ]
    rows = {r.case_id: r for r in domain.leaderboard(cases, normalise=True)}
    assert rows[a].normalised_score == pytest.approx(1.0)
    assert rows[b].normalised_score == pytest.approx(-1.0)
    assert rows[a].weighted_score == pytest.approx(4.0)
    assert rows[a].rank == 1 and rows[b].rank == 2


def test_normalised_ranking_can_differ_from_raw_ranking() -> None:
    # A lenient juror alone scored case x high; a harsh juror alone scored y lower, yet y is their best.
    x, y, z = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    cases = [
        ScoredCase(x, "X", "education", DEFAULT_CRITERIA, 1, {"lenient": all_default(4)}),
        ScoredCase(z, "Z", "education", DEFAULT_CRITERIA, 2, {"lenient": all_default(5), "harsh": all_default(1)}),
        ScoredCase(y, "Y", "education", DEFAULT_CRITERIA, 1, {"harsh": all_default(3)}),
    ]
    raw = {r.case_id: r.rank for r in domain.leaderboard(cases, normalise=False)}
    normalised = {r.case_id: r.rank for r in domain.leaderboard(cases, normalise=True)}
    assert raw[x] == 1 and raw[y] == 2 and raw[z] == 2
    assert normalised[y] == 1  # the harsh juror's best case


# --------------------------------------------------------------------------- leaderboard


def test_leaderboard_ranks_per_category_and_skips_unscored_cases() -> None:
    a, b, c, d = (uuid.uuid4() for _ in range(4))
    cases = [
        ScoredCase(a, "A", "education", DEFAULT_CRITERIA, 2, {"j1": all_default(3), "j2": all_default(4)}),
        ScoredCase(b, "B", "education", DEFAULT_CRITERIA, 2, {"j1": all_default(5)}),
        ScoredCase(c, "C", "health_care", DEFAULT_CRITERIA, 2, {"j2": all_default(1)}),
        ScoredCase(d, "D", "health_care", DEFAULT_CRITERIA, 2, {}),
    ]
    rows = domain.leaderboard(cases, normalise=False)
    assert [(r.case_id, r.category, r.rank) for r in rows] == [
        (b, "education", 1),
        (a, "education", 2),
        (c, "health_care", 1),
    ]
    by_id = {r.case_id: r for r in rows}
    assert by_id[a].weighted_score == pytest.approx(3.5)
    assert (by_id[a].jurors_scored, by_id[a].jurors_assigned) == (2, 2)
    assert (by_id[b].jurors_scored, by_id[b].jurors_assigned) == (1, 2)


def test_leaderboard_ties_share_a_rank() -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    cases = [
        ScoredCase(a, "A", "education", DEFAULT_CRITERIA, 1, {"j1": all_default(4)}),
        ScoredCase(b, "B", "education", DEFAULT_CRITERIA, 1, {"j2": all_default(4)}),
        ScoredCase(c, "C", "education", DEFAULT_CRITERIA, 1, {"j3": all_default(2)}),
    ]
    assert [r.rank for r in domain.leaderboard(cases, normalise=False)] == [1, 1, 3]


# --------------------------------------------------------------------------- conflicts


def juror(user_id: str, org: str, *conflicts: str) -> JurorProfile:
    return JurorProfile(user_id=user_id, name=user_id, organisation_id=org, conflicts=frozenset(conflicts))


def test_conflict_same_organisation() -> None:
    assert domain.has_conflict(juror("j", "org-a"), case_id=CASE, organisation_id="org-a")


def test_conflict_declared_organisation() -> None:
    assert domain.has_conflict(juror("j", "org-b", "org-a"), case_id=CASE, organisation_id="org-a")


def test_conflict_declared_case() -> None:
    assert domain.has_conflict(juror("j", "org-b", str(CASE)), case_id=CASE, organisation_id="org-a")


def test_no_conflict() -> None:
    assert not domain.has_conflict(juror("j", "org-b", "org-c", str(uuid.uuid4())), case_id=CASE, organisation_id="a")


# --------------------------------------------------------------------------- assignment


PANEL = (
    juror("j1", "org-a"),
    juror("j2", "org-b", "org-x"),
    juror("j3", "org-c"),
    juror("j4", "org-d", str(CASE)),
)


def test_choose_jurors_skips_every_kind_of_conflict() -> None:
    chosen = domain.choose_jurors(panel=PANEL, case_id=CASE, organisation_id="org-a", needed=4)
    # j1 same organisation, j4 declared the case: only j2 and j3 remain.
    assert chosen == ["j2", "j3"]
    chosen = domain.choose_jurors(panel=PANEL, case_id=uuid.uuid4(), organisation_id="org-x", needed=4)
    assert chosen == ["j1", "j3", "j4"]  # j2 declared org-x


def test_choose_jurors_prefers_the_least_loaded_then_panel_order() -> None:
    chosen = domain.choose_jurors(
        panel=PANEL, case_id=uuid.uuid4(), organisation_id="org-z", needed=2, loads={"j1": 2, "j2": 1, "j3": 1}
    )
    assert chosen == ["j4", "j2"]


def test_choose_jurors_rotates_round_the_panel_deterministically() -> None:
    loads: dict[str, int] = {}
    picks = []
    for _ in range(4):
        chosen = domain.choose_jurors(panel=PANEL, case_id=uuid.uuid4(), organisation_id="org-z", needed=2, loads=loads)
        for j in chosen:
            loads[j] = loads.get(j, 0) + 1
        picks.append(chosen)
    assert picks == [["j1", "j2"], ["j3", "j4"], ["j1", "j2"], ["j3", "j4"]]


def test_choose_jurors_skips_assigned_and_recused_and_may_fall_short() -> None:
    chosen = domain.choose_jurors(
        panel=PANEL,
        case_id=uuid.uuid4(),
        organisation_id="org-z",
        needed=3,
        already_assigned=["j1"],
        excluded=["j2", "j3"],
    )
    assert chosen == ["j4"]
    assert domain.choose_jurors(panel=(), case_id=CASE, organisation_id="o", needed=2) == []
    assert domain.choose_jurors(panel=PANEL, case_id=CASE, organisation_id="o", needed=0) == []


# --------------------------------------------------------------------------- score validation


def entries(values: dict[str, int]) -> list[ScoreEntry]:
    return [ScoreEntry(criterion=k, score=v) for k, v in values.items()]


def test_valid_scores_have_no_problems() -> None:
    assert domain.score_problems(DEFAULT_CRITERIA, entries(all_default(3))) == []


def test_out_of_range_score_names_the_criterion() -> None:
    given = all_default(3) | {"learning": 6}
    problems = domain.score_problems(DEFAULT_CRITERIA, entries(given))
    assert len(problems) == 1
    assert "'learning'" in problems[0].problem and "0..5" in problems[0].problem


def test_missing_duplicate_and_unknown_criteria_are_problems() -> None:
    given = entries({"novelty": 1, "usefulness": 2, "learning": 3, "customer_orientation": 4})
    given += [ScoreEntry("novelty", 2), ScoreEntry("beauty", 3)]
    text = " | ".join(p.problem for p in domain.score_problems(DEFAULT_CRITERIA, given))
    assert "'effectiveness' is not scored" in text
    assert "'novelty' is scored 2 times" in text
    assert "'beauty' is not a criterion" in text


def test_criteria_problems() -> None:
    bad = [
        Criterion(key="a", name="A", weight=1, scale_min=3, scale_max=3),
        Criterion(key="a", name="A2", weight=1),
    ]
    assert len(criteria_problems(bad)) == 2
    assert criteria_problems(DEFAULT_CRITERIA) == []


def test_missing_jurors() -> None:
    assert domain.missing_jurors(["j2", "j1", "j3"], ["j3"]) == ["j1", "j2"]


# --------------------------------------------------------------------------- status


S, A = EvaluationStatus, EvaluationAction

# Every allowed (status, action) and where it leads; every pair not listed is refused.
ALLOWED: dict[tuple[EvaluationStatus, EvaluationAction], EvaluationStatus] = {
    (S.OPEN, A.ASSIGN): S.OPEN,
    (S.OPEN, A.SCORE): S.OPEN,
    (S.OPEN, A.DECLARE_CONFLICT): S.OPEN,
    (S.OPEN, A.DECIDE): S.DECIDED,
    (S.DECIDED, A.DECIDE): S.DECIDED,  # a new decision replaces the last until publication
    (S.DECIDED, A.PUBLISH): S.PUBLISHED,
    (S.OPEN, A.WITHDRAW): S.WITHDRAWN,
    (S.DECIDED, A.WITHDRAW): S.WITHDRAWN,
    (S.PUBLISHED, A.WITHDRAW): S.WITHDRAWN,  # a withdrawal already on its way when the results went out
}
ALL_PAIRS = [(status, action) for status in EvaluationStatus for action in EvaluationAction]


@pytest.mark.parametrize(("status", "action"), ALL_PAIRS)
def test_transitions_exhaustively(status: EvaluationStatus, action: EvaluationAction) -> None:
    if (status, action) in ALLOWED:
        assert domain.transition(status, action) == ALLOWED[(status, action)]
    else:
        with pytest.raises(InvalidTransition) as refused:
            domain.transition(status, action)
        assert refused.value.status is status and refused.value.action is action


def test_a_published_decision_is_final_and_says_so() -> None:
    with pytest.raises(domain.ResultsPublished) as refused:
        domain.transition(S.PUBLISHED, A.DECIDE)
    assert isinstance(refused.value, Conflict)
    assert refused.value.error == "results_published"
    assert "results of this case are published" in refused.value.message


def test_only_decided_evaluations_are_published() -> None:
    for status in set(EvaluationStatus) - {S.DECIDED}:
        with pytest.raises(InvalidTransition, match=f"cannot publish: the evaluation is {status.value}"):
            domain.transition(status, A.PUBLISH)
