"""Request and response bodies of the awards API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from services.awards.domain import DEFAULT_JURORS_PER_CASE, EvaluationStatus
from shared.pagination import Page
from shared.vocabulary import AwardOutcome

T = TypeVar("T")

Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


# --------------------------------------------------------------------------- criteria


class CriterionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="snake_case identifier, unique in the call")
    name: str = Field(min_length=1, max_length=200)
    weight: float = Field(gt=0, le=1000)
    scale_min: int = Field(default=0, ge=-1000, le=1000)
    scale_max: int = Field(default=5, ge=-1000, le=1000)

    @model_validator(mode="after")
    def _scale_is_a_range(self) -> CriterionBody:
        if self.scale_max <= self.scale_min:
            raise ValueError(f"criterion {self.key!r}: scale_max ({self.scale_max}) must exceed scale_min")
        return self


class CriteriaBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    criteria: list[CriterionBody] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _keys_are_unique(self) -> CriteriaBody:
        keys = [c.key for c in self.criteria]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"criterion keys must be unique; repeated: {', '.join(duplicates)}")
        return self


class CriterionView(BaseModel):
    key: str
    name: str
    weight: float
    scale_min: int
    scale_max: int


class CriteriaView(BaseModel):
    call_id: uuid.UUID
    criteria: list[CriterionView]
    is_default: bool


# --------------------------------------------------------------------------- jury


class JurorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Identifier
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr | None = None
    organisation_id: Identifier
    conflicts: list[Identifier] = Field(
        default_factory=list, max_length=500, description="organisation ids or case ids the juror is conflicted with"
    )


class JuryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jurors: list[JurorBody] = Field(max_length=500)
    jurors_per_case: int = Field(default=DEFAULT_JURORS_PER_CASE, ge=1, le=20)

    @model_validator(mode="after")
    def _jurors_are_unique(self) -> JuryBody:
        ids = [j.user_id for j in self.jurors]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"a juror appears more than once: {', '.join(duplicates)}")
        return self


class JurorView(BaseModel):
    user_id: str
    name: str
    email: str | None
    organisation_id: str
    conflicts: list[str]
    assigned_cases: int


class JuryView(BaseModel):
    call_id: uuid.UUID
    jurors: list[JurorView]
    jurors_per_case: int
    assignments_added: int = 0


# --------------------------------------------------------------------------- scoring


class ScoreBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    criterion: str = Field(min_length=1, max_length=64)
    score: int
    comment: str = Field(default="", max_length=2000)


class ScorecardBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scores: list[ScoreBody] = Field(min_length=1, max_length=50)
    overall_comment: str = Field(default="", max_length=5000)


class ConflictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

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


class CaseView(BaseModel):
    case_id: uuid.UUID
    call_id: uuid.UUID
    call_title: str
    title: str
    summary: str
    category: str
    language: str
    organisation_id: str
    organisation_name: str


class AssignmentView(BaseModel):
    case: CaseView
    status: EvaluationStatus
    criteria: list[CriterionView]
    assigned_at: datetime
    my_scores: ScorecardView | None


# --------------------------------------------------------------------------- operators


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

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
    case: CaseView
    status: EvaluationStatus
    opened_at: datetime
    outcome: AwardOutcome | None
    published_at: datetime | None


class EvaluationView(BaseModel):
    case: CaseView
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
