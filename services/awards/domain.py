"""Award evaluation rules, free of I/O: criteria, conflicts, juror assignment, score validation, scoring maths."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from shared.errors import Conflict, Problem
from shared.events import (
    QUALITY_INNOVATION_AWARD_CRITERIA,
    CaseHeader,
    CaseNominatedV1,
    CaseSnapshot,
    ChangesRequestedV1,
    Contact,
    Criterion,
    EventPayload,
    FeedbackItem,
    IterationOpenedV1,
    StageAdvancedV1,
)
from shared.events import Person as Addressee
from shared.feedback import PointState, point_states
from shared.vocabulary import IsoStage, Language

DEFAULT_JURORS_PER_CASE = 2

# What a nomination is evaluated against while awards has not learned its call (intake's announcement
# is on another topic and may arrive later): the Quality Innovation Award's five, one definition in shared.
DEFAULT_CRITERIA: tuple[Criterion, ...] = QUALITY_INNOVATION_AWARD_CRITERIA


# --------------------------------------------------------------------------- status


class EvaluationStatus(StrEnum):
    OPEN = "open"
    DECIDED = "decided"  # the jury's decision, embargoed: only jurors and operators know it
    PUBLISHED = "published"  # the call's results are out: the decision is final and the submitter knows it
    WITHDRAWN = "withdrawn"


class EvaluationAction(StrEnum):
    ASSIGN = "assign"
    SCORE = "score"
    DECLARE_CONFLICT = "declare_conflict"
    DECIDE = "decide"
    PUBLISH = "publish"
    WITHDRAW = "withdraw"


# --------------------------------------------------------------------------- refusals
# shared.errors' NotFound, Conflict and Invalid; shared/http_errors.py maps them to HTTP 404, 409 and 422.


class InvalidTransition(Conflict):
    def __init__(
        self, status: EvaluationStatus, action: EvaluationAction, message: str | None = None, error: str | None = None
    ) -> None:
        super().__init__(
            message or f"cannot {action.value.replace('_', ' ')}: the evaluation is {status.value}", error=error
        )
        self.status = status
        self.action = action


class ResultsPublished(InvalidTransition):
    """A decision asked for after the call's results went out: what was announced stands."""

    def __init__(self) -> None:
        super().__init__(
            EvaluationStatus.PUBLISHED,
            EvaluationAction.DECIDE,
            "cannot decide: the results of this case are published, and a published decision can no longer change",
            error="results_published",
        )


def transition(status: EvaluationStatus, action: EvaluationAction) -> EvaluationStatus:
    """The one place that says which action is allowed in which status, and where it leads."""
    match status, action:
        case (
            EvaluationStatus.OPEN,
            EvaluationAction.ASSIGN | EvaluationAction.SCORE | EvaluationAction.DECLARE_CONFLICT,
        ):
            return EvaluationStatus.OPEN
        # Until publication a decision may be taken again: the new one replaces it.
        case EvaluationStatus.OPEN | EvaluationStatus.DECIDED, EvaluationAction.DECIDE:
            return EvaluationStatus.DECIDED
        case EvaluationStatus.PUBLISHED, EvaluationAction.DECIDE:
            raise ResultsPublished()
        case EvaluationStatus.DECIDED, EvaluationAction.PUBLISH:
            return EvaluationStatus.PUBLISHED
        # A submitter may withdraw until results are out (intake refuses later). A withdrawal already on its way
        # when the results went out still closes the evaluation; the published result was announced all the same.
        case (
            EvaluationStatus.OPEN | EvaluationStatus.DECIDED | EvaluationStatus.PUBLISHED,
            EvaluationAction.WITHDRAW,
        ):
            return EvaluationStatus.WITHDRAWN
        case _:
            raise InvalidTransition(status, action)


# --------------------------------------------------------------------------- calls (learned from intake)


@dataclass(frozen=True)
class Call:
    """A call as awards knows it: intake's announcement of the highest revision seen.

    ``criteria`` are the call's own criteria as in force here: the announced ones, unless an announcement
    came after the call's first score (``announced_criteria_effect``).
    """

    call_id: uuid.UUID
    revision: int
    title: str
    opens_at: datetime
    closes_at: datetime
    criteria: tuple[Criterion, ...]
    learned_at: datetime
    updated_at: datetime


class CriteriaSource(StrEnum):
    CALL = "call"  # the call's own, as intake announced them
    OVERRIDE = "override"  # set by an operator in awards (PUT /calls/{id}/criteria)
    DEFAULT = "default"  # the call is not known yet: the Quality Innovation Award's five


def criteria_in_force(
    *, override: Sequence[Criterion] | None, call: Call | None
) -> tuple[tuple[Criterion, ...], CriteriaSource]:
    """What the call's cases are evaluated against: an operator's override, else the call's own criteria."""
    if override is not None:
        return tuple(override), CriteriaSource.OVERRIDE
    if call is not None:
        return call.criteria, CriteriaSource.CALL
    return DEFAULT_CRITERIA, CriteriaSource.DEFAULT


def is_newer_announcement(*, known_revision: int | None, revision: int) -> bool:
    """Only a higher revision than the one known changes anything: older and repeated announcements are stale."""
    return known_revision is None or revision > known_revision


class AnnouncedCriteria(StrEnum):
    """What an announcement does to the call's criteria in awards."""

    UNCHANGED = "unchanged"  # the same criteria as before
    APPLIED = "applied"  # the call's criteria, and those of its open evaluations, become the announced ones
    RECORDED = "recorded"  # the call's criteria become the announced ones; the operator's override stays in force
    FROZEN = "frozen"  # the call has scores: nothing changes, scores stay comparable (as for an override)


def announced_criteria_effect(
    *, known: Sequence[Criterion] | None, announced: Sequence[Criterion], overridden: bool, scored: bool
) -> AnnouncedCriteria:
    """The rule for criteria announced with a call (first or later revision).

    Criteria never change once a case of the call is scored, whoever changes them; before that an
    operator's override in awards wins over the call's own criteria, which take effect again only if the
    operator sets them.
    """
    if known is not None and tuple(known) == tuple(announced):
        return AnnouncedCriteria.UNCHANGED
    match scored, overridden:
        case True, _:
            return AnnouncedCriteria.FROZEN
        case False, True:
            return AnnouncedCriteria.RECORDED
        case _:
            return AnnouncedCriteria.APPLIED


# --------------------------------------------------------------------------- jury and conflicts


@dataclass(frozen=True)
class JurorProfile:
    user_id: str
    name: str
    organisation_id: str
    email: str | None = None
    conflicts: frozenset[str] = frozenset()
    language: Language = Language.EN  # what the juror's notices are written in


@dataclass(frozen=True)
class Jury:
    jurors: tuple[JurorProfile, ...]
    jurors_per_case: int = DEFAULT_JURORS_PER_CASE
    scoring_due_at: datetime | None = None  # the call's scoring deadline; None: each juror gets the scoring period


NO_JURY = Jury(jurors=())  # a call whose jury is not set yet: nobody to assign


def addressee(jury: Jury | None, juror_id: str) -> Addressee:
    """Whom a notice to the juror goes to, as the panel describes them.

    A juror no longer on the panel keeps their assignments; all that is known of them then is the user id.
    """
    profile = next((j for j in jury.jurors if j.user_id == juror_id), None) if jury is not None else None
    if profile is None:
        return Addressee(user_id=juror_id)
    return Addressee(user_id=profile.user_id, name=profile.name, email=profile.email, language=profile.language)


def has_conflict(juror: JurorProfile, *, case_id: uuid.UUID, organisation_id: str) -> bool:
    """A juror never evaluates a case of their own organisation, or one they declared a conflict with."""
    return (
        juror.organisation_id == organisation_id
        or organisation_id in juror.conflicts
        or str(case_id) in juror.conflicts
    )


def choose_jurors(
    *,
    panel: Sequence[JurorProfile],
    case_id: uuid.UUID,
    organisation_id: str,
    needed: int,
    already_assigned: Collection[str] = (),
    excluded: Collection[str] = (),
    loads: Mapping[str, int] | None = None,
) -> list[str]:
    """Pick up to ``needed`` eligible jurors, least loaded first, panel order breaking ties.

    Deterministic, and with ties broken by panel order successive cases rotate round the panel.
    ``excluded`` are jurors who recused themselves from this case.
    """
    if needed <= 0:
        return []
    loads = loads or {}
    eligible = [
        (loads.get(juror.user_id, 0), position, juror.user_id)
        for position, juror in enumerate(panel)
        if juror.user_id not in already_assigned
        and juror.user_id not in excluded
        and not has_conflict(juror, case_id=case_id, organisation_id=organisation_id)
    ]
    eligible.sort()
    return [user_id for _, _, user_id in eligible[:needed]]


def conflicted_jurors(
    panel: Sequence[JurorProfile], *, case_id: uuid.UUID, organisation_id: str, assigned: Sequence[str]
) -> list[str]:
    """Assigned jurors whom the panel now declares conflicted with the case, in assignment order.

    An assigned juror no longer on the panel keeps the assignment.
    """
    by_id = {j.user_id: j for j in panel}
    return [
        juror_id
        for juror_id in assigned
        if juror_id in by_id and has_conflict(by_id[juror_id], case_id=case_id, organisation_id=organisation_id)
    ]


# --------------------------------------------------------------------------- criteria and scores


@dataclass(frozen=True)
class ScoreEntry:
    criterion: str
    score: int
    comment: str = ""


@dataclass(frozen=True)
class Scorecard:
    case_id: uuid.UUID
    juror_id: str
    scores: tuple[ScoreEntry, ...]
    overall_comment: str
    submitted_at: datetime

    def by_criterion(self) -> dict[str, int]:
        return {s.criterion: s.score for s in self.scores}


def jury_problems(jurors: Sequence[JurorProfile]) -> list[Problem]:
    """What is wrong with a panel (empty when usable): each juror once."""
    ids = [j.user_id for j in jurors]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        return [Problem("jurors", f"a juror appears more than once: {', '.join(repeated)}")]
    return []


def score_problems(criteria: Sequence[Criterion], scores: Sequence[ScoreEntry]) -> list[Problem]:
    """Every criterion scored exactly once, within its scale, and nothing else (empty when valid)."""
    by_key = {c.key: c for c in criteria}
    problems: list[Problem] = []
    counts: dict[str, int] = defaultdict(int)
    for i, entry in enumerate(scores):
        counts[entry.criterion] += 1
        criterion = by_key.get(entry.criterion)
        if criterion is None:
            problems.append(Problem(f"scores.{i}.criterion", f"{entry.criterion!r} is not a criterion of this call"))
        elif not criterion.scale_min <= entry.score <= criterion.scale_max:
            problems.append(
                Problem(
                    f"scores.{i}.score",
                    f"criterion {entry.criterion!r}: score {entry.score} is outside "
                    f"{criterion.scale_min}..{criterion.scale_max}",
                )
            )
    for key, n in counts.items():
        if n > 1 and key in by_key:
            problems.append(Problem("scores", f"criterion {key!r} is scored {n} times; score it once"))
    for criterion in criteria:
        if counts.get(criterion.key, 0) == 0:
            problems.append(Problem("scores", f"criterion {criterion.key!r} is not scored"))
    return problems


def reference_scale(criteria: Sequence[Criterion]) -> tuple[int, int]:
    """The scale a weighted score is reported on: the criteria's own when they share one."""
    return min(c.scale_min for c in criteria), max(c.scale_max for c in criteria)


def weighted_score(criteria: Sequence[Criterion], scores: Mapping[str, int]) -> float:
    """One juror's Σ weight·score / Σ weight, each score taken as a share of its own scale, on the reference scale.

    With criteria sharing one scale this is exactly the weighted mean of the raw scores.
    """
    low, high = reference_scale(criteria)
    total_weight = sum(c.weight for c in criteria)
    share = sum(c.weight * (scores[c.key] - c.scale_min) / (c.scale_max - c.scale_min) for c in criteria)
    return low + (high - low) * share / total_weight


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def population_sd(values: Sequence[float]) -> float:
    """The standard deviation of ``values`` taken as the whole population (n, not n − 1: all the jurors there are)."""
    centre = sum(values) / len(values)
    return math.sqrt(sum((v - centre) ** 2 for v in values) / len(values))


def z_normalise(values: Sequence[float]) -> list[float]:
    """(x − mean) / sd (population sd); a single value, or no spread at all, gives 0s."""
    if len(values) < 2:
        return [0.0 for _ in values]
    centre = sum(values) / len(values)
    sd = population_sd(values)
    if sd == 0:
        return [0.0 for _ in values]
    return [(v - centre) / sd for v in values]


# --------------------------------------------------------------------------- leaderboard


@dataclass(frozen=True)
class ScoredCase:
    """What the leaderboard needs of one evaluation: its criteria and each assigned juror's scores."""

    case_id: uuid.UUID
    title: str
    category: str
    criteria: tuple[Criterion, ...]
    jurors_assigned: int
    scorecards: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class LeaderboardRow:
    case_id: uuid.UUID
    title: str
    category: str
    jurors_scored: int
    jurors_assigned: int
    weighted_score: float
    normalised_score: float
    rank: int


def leaderboard(cases: Sequence[ScoredCase], *, normalise: bool) -> list[LeaderboardRow]:
    """Rank every case that has at least one scorecard, per category (1 = best; ties share a rank).

    ``weighted_score`` is the mean over jurors of each juror's weighted score. ``normalised_score`` is the
    mean over jurors of the juror's z-score, taken over all the weighted scores that juror gave in the
    call, which removes a harsh or lenient juror's bias. ``normalise`` picks which of the two ranks.
    """
    scored = [c for c in cases if c.scorecards]
    per_juror: dict[str, list[tuple[uuid.UUID, float]]] = defaultdict(list)
    raw: dict[uuid.UUID, list[float]] = defaultdict(list)
    for case in scored:
        for juror_id, scores in case.scorecards.items():
            value = weighted_score(case.criteria, scores)
            per_juror[juror_id].append((case.case_id, value))
            raw[case.case_id].append(value)
    z: dict[uuid.UUID, list[float]] = defaultdict(list)
    for given in per_juror.values():
        for (case_id, _), value in zip(given, z_normalise([v for _, v in given]), strict=True):
            z[case_id].append(value)

    by_category: dict[str, list[tuple[float, float, ScoredCase]]] = defaultdict(list)
    for case in scored:
        by_category[case.category].append((mean(raw[case.case_id]) or 0.0, mean(z[case.case_id]) or 0.0, case))

    rows: list[LeaderboardRow] = []
    for category in sorted(by_category):
        ranked = sorted(
            by_category[category], key=lambda e: (-(e[1] if normalise else e[0]), e[2].title, str(e[2].case_id))
        )
        rank, previous = 0, None
        for position, (weighted, normalised, case) in enumerate(ranked, start=1):
            key = round(normalised if normalise else weighted, 9)
            if key != previous:
                rank, previous = position, key
            rows.append(
                LeaderboardRow(
                    case_id=case.case_id,
                    title=case.title,
                    category=category,
                    jurors_scored=len(case.scorecards),
                    jurors_assigned=case.jurors_assigned,
                    weighted_score=weighted,
                    normalised_score=normalised,
                    rank=rank,
                )
            )
    return rows


# --------------------------------------------------------------------------- inter-rater spread

# Jurors' weighted scores of one case this far apart, as a share of the scale's width, are flagged as a large spread
# (1.25 points on the 0–5 scale). A weighted score is a mean over the criteria, so jurors this far apart disagree by
# more than a grade on the average criterion: they have read the case or the criteria differently (or one has a
# conflict they did not declare), and the jury should talk it over before the operator decides.
LARGE_SPREAD_SHARE = 0.25


@dataclass(frozen=True)
class ScoreSpread:
    """How far apart the jurors' weighted scores of one case are: lowest, highest, their (population) standard
    deviation, and whether the range (highest − lowest) is large (``LARGE_SPREAD_SHARE`` of the scale or more)."""

    case_id: uuid.UUID
    title: str
    category: str
    jurors_scored: int
    lowest: float
    highest: float
    sd: float
    large: bool


def score_spread(cases: Sequence[ScoredCase]) -> list[ScoreSpread]:
    """The spread of every case that at least two jurors have scored, the widest first."""
    spreads: list[ScoreSpread] = []
    for case in cases:
        if len(case.scorecards) < 2:
            continue
        values = [weighted_score(case.criteria, scores) for scores in case.scorecards.values()]
        low, high = reference_scale(case.criteria)
        spreads.append(
            ScoreSpread(
                case_id=case.case_id,
                title=case.title,
                category=case.category,
                jurors_scored=len(values),
                lowest=min(values),
                highest=max(values),
                sd=population_sd(values),
                # Rounded as the scores are shown, so a range exactly at the threshold counts as large.
                large=round(max(values) - min(values), 9) >= round(LARGE_SPREAD_SHARE * (high - low), 9),
            )
        )
    return sorted(spreads, key=lambda s: (-(s.highest - s.lowest), s.title, str(s.case_id)))


# --------------------------------------------------------------------------- evaluation record


@dataclass(frozen=True)
class Evaluation:
    case: CaseHeader
    criteria: tuple[Criterion, ...]
    status: EvaluationStatus
    opened_at: datetime
    outcome: str | None = None
    feedback: str | None = None
    weighted_score: float | None = None
    rank_in_category: int | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    published_at: datetime | None = None
    withdrawn_at: datetime | None = None

    @property
    def case_id(self) -> uuid.UUID:
        return self.case.case_id

    @property
    def call_id(self) -> uuid.UUID:
        return self.case.call_id

    @property
    def organisation_id(self) -> str:
        return self.case.organisation_id


def missing_jurors(assigned: Collection[str], scored: Collection[str]) -> list[str]:
    """Assigned jurors who have not scored yet, in a stable order."""
    return sorted(set(assigned) - set(scored))


def ensure_decidable(assigned: Collection[str], scored: Collection[str]) -> None:
    """A decision needs at least one assigned juror, and a scorecard from every one of them."""
    if not assigned:
        raise Conflict("no juror is assigned to this case yet; set the jury")
    missing = missing_jurors(assigned, scored)
    if missing:
        raise Conflict(f"not every assigned juror has scored; still missing: {', '.join(missing)}")


def is_decidable(assigned: Collection[str], scored: Collection[str]) -> bool:
    """Whether ``ensure_decidable`` lets a decision be taken: the same rule, asked rather than enforced."""
    try:
        ensure_decidable(assigned, scored)
    except Conflict:
        return False
    return True


# --------------------------------------------------------------------------- deadlines, reminders, completion


def scoring_due_at(*, jury_deadline: datetime | None, assigned_at: datetime, scoring_period: timedelta) -> datetime:
    """When a juror's scores for a case are due: the call's deadline when the jury has one, else the scoring
    period after the juror was assigned (a juror assigned late, as a replacement, gets the whole period)."""
    return jury_deadline if jury_deadline is not None else assigned_at + scoring_period


def earliest_deadline(deadlines: Collection[datetime]) -> datetime:
    """The deadline told to jurors assigned together: the earliest of theirs, so none is told too late a date.

    Jurors assigned in one go share one deadline in practice (one jury, one moment); this only decides if not.
    """
    if not deadlines:
        raise ValueError("no deadlines: no juror was assigned")
    return min(deadlines)


def reminders_due_until(*, now: datetime, lead: timedelta) -> datetime:
    """The latest deadline a reminder is due for now (how the repository asks for the assignments to remind)."""
    return now + lead


def reminder_due(*, due_at: datetime, now: datetime, lead: timedelta) -> bool:
    """A juror who has not scored is reminded from ``lead`` before their deadline on (once; also when overdue):
    ``now >= due_at - lead``."""
    return due_at <= reminders_due_until(now=now, lead=lead)


@dataclass(frozen=True)
class ScoringProgress:
    """One open evaluation's jurors: who is assigned and who of them has scored."""

    assigned: frozenset[str]
    scored: frozenset[str]


def evaluation_complete(progress: Collection[ScoringProgress]) -> bool:
    """A call's evaluation is complete when it has open evaluations and every one of them could be decided."""
    return bool(progress) and all(is_decidable(p.assigned, p.scored) for p in progress)


class Completion(StrEnum):
    """What a change to a call's evaluations does to its completeness, as last recorded on the call."""

    REACHED = "reached"  # complete now, not before: tell the operators (EvaluationCompleteV1), once
    LOST = "lost"  # complete before, not now (a nomination, a new juror): it may be reached again later
    UNCHANGED = "unchanged"


def completion(*, was_complete: bool, is_complete: bool) -> Completion:
    match was_complete, is_complete:
        case False, True:
            return Completion.REACHED
        case True, False:
            return Completion.LOST
        case _:
            return Completion.UNCHANGED


def standing(cases: Sequence[ScoredCase], case_id: uuid.UUID) -> tuple[float | None, int | None]:
    """The case's weighted score (rounded to 4 places, as recorded) and rank in its category; Nones if unranked."""
    row = next((r for r in leaderboard(cases, normalise=False) if r.case_id == case_id), None)
    if row is None:
        return None, None
    return round(row.weighted_score, 4), row.rank


# --------------------------------------------------------------------------- what a juror reads of a case
# Awards keeps it from intake's case events and review's iteration events; only assigned jurors and operators read it.


@dataclass(frozen=True)
class Person:
    """A team member or partner as a juror sees them: name and role, never contact data."""

    name: str
    role: str | None = None


@dataclass(frozen=True)
class CaseContent:
    """The case as its latest revision describes it, without contact data (jurors need none)."""

    revision: int
    title: str
    summary: str
    problem: str
    solution: str
    organisation_name: str
    team: tuple[Person, ...]
    partners: tuple[Person, ...]
    oecd_principles: tuple[int, ...]
    iso_stage: IsoStage
    drivers: tuple[str, ...]
    obstacles: tuple[str, ...]


def _people(contacts: Sequence[Contact]) -> tuple[Person, ...]:
    return tuple(Person(name=c.name, role=c.role) for c in contacts)


def case_content(snapshot: CaseSnapshot) -> CaseContent:
    """What jurors read of a revision's snapshot: everything but the submitter and anyone's email address."""
    return CaseContent(
        revision=snapshot.revision,
        title=snapshot.title,
        summary=snapshot.summary,
        problem=snapshot.problem,
        solution=snapshot.solution,
        organisation_name=snapshot.organisation.name,
        team=_people(snapshot.team),
        partners=_people(snapshot.partners),
        oecd_principles=tuple(snapshot.oecd_principles),
        iso_stage=snapshot.iso_stage,
        drivers=tuple(snapshot.drivers),
        obstacles=tuple(snapshot.obstacles),
    )


@dataclass(frozen=True)
class RevisionNote:
    """A revision's note from the submitter, and the feedback points it says it addresses."""

    revision: int
    change_note: str
    addressed_points: tuple[uuid.UUID, ...]
    received_at: datetime


class RoundOutcome(StrEnum):
    """How a review iteration ended, as review's events tell awards (rejected cases never reach a jury)."""

    CHANGES_REQUESTED = "changes_requested"
    ADVANCED = "advanced"
    NOMINATED = "nominated"


@dataclass(frozen=True)
class RoundOpened:
    iteration: int
    stage: IsoStage
    revision: int
    at: datetime


@dataclass(frozen=True)
class RoundSettled:
    iteration: int
    outcome: RoundOutcome
    comment: str
    feedback: tuple[FeedbackItem, ...]
    stage: IsoStage | None  # the stage the iteration reviewed, when the event names it
    at: datetime


# The review events that make up a case's review history in awards.
ReviewRoundEvent = IterationOpenedV1 | ChangesRequestedV1 | StageAdvancedV1 | CaseNominatedV1


def review_round(payload: EventPayload, *, at: datetime) -> RoundOpened | RoundSettled | None:
    """What a review event adds to the case's review history; None for events that add nothing."""
    match payload:
        case IterationOpenedV1(iteration=iteration, stage=stage, revision=revision):
            return RoundOpened(iteration, stage, revision, at)
        case ChangesRequestedV1(iteration=iteration, comment=comment, feedback=feedback):
            return RoundSettled(iteration, RoundOutcome.CHANGES_REQUESTED, comment, tuple(feedback), None, at)
        case StageAdvancedV1(iteration=iteration, comment=comment, from_stage=stage):
            return RoundSettled(iteration, RoundOutcome.ADVANCED, comment, (), stage, at)
        case CaseNominatedV1(iteration=iteration, comment=comment, stage=stage):
            return RoundSettled(iteration, RoundOutcome.NOMINATED, comment, (), stage, at)
        case _:
            return None


@dataclass(frozen=True)
class ReviewRound:
    """One review iteration of the case: where it stood, how it ended, the reviewers' reasons and feedback."""

    iteration: int
    stage: IsoStage | None
    revision: int | None
    opened_at: datetime | None
    outcome: RoundOutcome | None  # None while the iteration is open
    comment: str
    feedback: tuple[FeedbackItem, ...]
    settled_at: datetime | None


@dataclass(frozen=True)
class Dossier:
    """Everything a juror reads of a case besides its header: content, review history, revisions."""

    content: CaseContent | None  # None when awards never received the case's content
    rounds: tuple[ReviewRound, ...] = ()
    revisions: tuple[RevisionNote, ...] = ()

    def point_states(self) -> dict[uuid.UUID, PointState]:
        """The state of every feedback point of the case (shared/feedback.py)."""
        points = [f.point_id for r in self.rounds for f in r.feedback if f.point_id is not None]
        return point_states(points, ((n.revision, n.addressed_points) for n in self.revisions))


NO_DOSSIER = Dossier(content=None)
