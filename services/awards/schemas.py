"""Request and response bodies of the awards API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, EmailStr, Field, StringConstraints, field_validator

from services.awards.domain import (
    DEFAULT_JURORS_PER_CASE,
    CriteriaSource,
    EvaluationStatus,
    JurorProfile,
    Jury,
    RoundOutcome,
)
from shared.bodies import DateTimeText, Integer, Number, RequestBody
from shared.events import CaseHeader
from shared.feedback import PointStatus
from shared.pagination import Page
from shared.vocabulary import AwardOutcome, IsoStage, Language

Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


# --------------------------------------------------------------------------- criteria


class CriterionBody(RequestBody):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="snake_case identifier, unique in the call")
    name: str = Field(min_length=1, max_length=200)
    weight: Annotated[float, Number] = Field(gt=0, le=1000)
    scale_min: Annotated[int, Integer] = Field(default=0, ge=-1000, le=1000)
    scale_max: Annotated[int, Integer] = Field(default=5, ge=-1000, le=1000)
    description: str = Field(default="", max_length=2000, description="what the criterion means, for the jurors")


class CriteriaBody(RequestBody):
    # Each key once and each scale a range: shared.events.criteria_problems, applied by the use case.
    criteria: list[CriterionBody] = Field(min_length=1, max_length=20)


class CriterionView(BaseModel):
    key: str
    name: str
    weight: float
    scale_min: int
    scale_max: int
    description: str = ""


class CriteriaView(BaseModel):
    call_id: uuid.UUID
    criteria: list[CriterionView]
    # true while the criteria are the call's own, as intake announced them (no override in awards)
    is_default: bool
    source: CriteriaSource


# --------------------------------------------------------------------------- jury


class JurorBody(RequestBody):
    user_id: Identifier
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr | None = None
    organisation_id: Identifier
    conflicts: list[Identifier] = Field(
        default_factory=list, max_length=500, description="organisation ids or case ids the juror is conflicted with"
    )
    language: Language = Field(
        default=Language.EN, description="the language of the juror's notices (assignments, reminders, decisions)"
    )


class JuryBody(RequestBody):
    jurors: list[JurorBody] = Field(max_length=500)
    jurors_per_case: Annotated[int, Integer] = Field(default=DEFAULT_JURORS_PER_CASE, ge=1, le=20)
    scoring_due_at: DateTimeText | None = Field(
        default=None,
        description="the call's scoring deadline, with its UTC offset: every juror's scores are due then (and "
        "a changed deadline moves that of every open assignment). Left out, a juror's scores are due "
        "KIPINA_AWARDS_SCORING_PERIOD_DAYS after their assignment",
    )

    @field_validator("scoring_due_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("the deadline is out of range: in UTC it must fall in the years 1 to 9999") from None

    def to_jury(self) -> Jury:
        """The domain's panel, as the API and the operator's page both hand it to ``workflow.set_jury``."""
        return Jury(
            jurors=tuple(
                JurorProfile(
                    user_id=j.user_id,
                    name=j.name,
                    email=str(j.email) if j.email else None,
                    organisation_id=j.organisation_id,
                    conflicts=frozenset(j.conflicts),
                    language=j.language,
                )
                for j in self.jurors
            ),
            jurors_per_case=self.jurors_per_case,
            scoring_due_at=self.scoring_due_at,
        )


class JurorView(BaseModel):
    user_id: str
    name: str
    email: str | None
    organisation_id: str
    conflicts: list[str]
    language: Language
    assigned_cases: int


class JuryView(BaseModel):
    call_id: uuid.UUID
    jurors: list[JurorView]
    jurors_per_case: int
    scoring_due_at: datetime | None
    assignments_added: int = 0


# --------------------------------------------------------------------------- scoring


class ScoreBody(RequestBody):
    criterion: str = Field(min_length=1, max_length=64)
    score: Annotated[int, Integer]
    comment: str = Field(default="", max_length=2000)


class ScorecardBody(RequestBody):
    scores: list[ScoreBody] = Field(min_length=1, max_length=50)
    overall_comment: str = Field(default="", max_length=5000)


class ConflictBody(RequestBody):
    reason: str = Field(min_length=1, max_length=2000)


class ConflictView(BaseModel):
    case_id: uuid.UUID
    juror_id: str
    recused: bool
    replacement_assigned: bool


class ScoreView(BaseModel):
    criterion: str
    score: int
    comment: str


class ScorecardView(BaseModel):
    juror_id: str
    scores: list[ScoreView]
    overall_comment: str
    submitted_at: datetime
    weighted_score: float


# --------------------------------------------------------------------------- the whole case, as jurors read it


class PersonView(BaseModel):
    name: str
    role: str | None


class CaseContentView(BaseModel):
    """The case as its latest revision describes it; no contact data."""

    revision: int
    title: str
    summary: str
    problem: str
    solution: str
    organisation_name: str
    team: list[PersonView]
    partners: list[PersonView]
    oecd_principles: list[int]
    iso_stage: IsoStage
    drivers: list[str]
    obstacles: list[str]


class ReviewFeedbackView(BaseModel):
    checklist_item: str
    met: bool
    comment: str
    # Set when the item is a point the submitter was asked to address: open, or addressed by which revision.
    point_id: uuid.UUID | None
    status: PointStatus | None
    addressed_in_revision: int | None


class ReviewRoundView(BaseModel):
    iteration: int
    stage: IsoStage | None
    revision: int | None
    opened_at: datetime | None
    outcome: RoundOutcome | None
    comment: str
    feedback: list[ReviewFeedbackView]
    settled_at: datetime | None


class RevisionNoteView(BaseModel):
    revision: int
    change_note: str
    addressed_points: list[uuid.UUID]
    received_at: datetime


class AssignmentView(BaseModel):
    case: CaseHeader
    status: EvaluationStatus
    criteria: list[CriterionView]
    assigned_at: datetime
    scoring_due_at: datetime  # when the juror's scores are due
    my_scores: ScorecardView | None
    # The whole case: its content (null if awards never received it), review history and revisions.
    content: CaseContentView | None
    review_history: list[ReviewRoundView]
    revisions: list[RevisionNoteView]


# --------------------------------------------------------------------------- operators


class DecisionBody(RequestBody):
    outcome: AwardOutcome
    feedback: str = Field(min_length=1, max_length=5000, description="assessor feedback for the submitter")


class DecisionView(BaseModel):
    outcome: AwardOutcome
    feedback: str
    weighted_score: float | None
    rank_in_category: int | None
    decided_by: str
    decided_at: datetime


class JurorAssignmentView(BaseModel):
    juror_id: str
    scored: bool


class EvaluationSummary(BaseModel):
    case: CaseHeader
    status: EvaluationStatus
    opened_at: datetime
    outcome: AwardOutcome | None
    published_at: datetime | None


class EvaluationView(BaseModel):
    case: CaseHeader
    status: EvaluationStatus
    criteria: list[CriterionView]
    opened_at: datetime
    jurors: list[JurorAssignmentView]
    recused_juror_ids: list[str]
    scorecards: list[ScorecardView]
    weighted_score: float | None
    decision: DecisionView | None
    published_at: datetime | None
    withdrawn_at: datetime | None
    content: CaseContentView | None
    review_history: list[ReviewRoundView]
    revisions: list[RevisionNoteView]


class LeaderboardRowView(BaseModel):
    case_id: uuid.UUID
    title: str
    category: str
    jurors_scored: int
    jurors_assigned: int
    weighted_score: float
    normalised_score: float
    rank: int


class LeaderboardView(Page[LeaderboardRowView]):
    call_id: uuid.UUID
    normalise: bool


class PublishView(BaseModel):
    call_id: uuid.UUID
    published: list[uuid.UUID]
