"""HTTP request and response models of intake. Request bodies are strict: unknown fields are refused."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, model_validator

from services.intake.domain import (
    BUSINESS_ID_CHECK_DIGIT_RULE,
    BUSINESS_ID_PATTERN,
    CaseStatus,
    TimelineKind,
    business_id_problem,
    call_window_problem,
    oecd_principles_problems,
)
from shared.bodies import DateTimeText, Integer, RequestBody
from shared.events import Contact, Criterion, Organisation
from shared.feedback import PointStatus
from shared.vocabulary import AwardOutcome, Category, IsoStage, Language, OecdPrinciple


class Strict(RequestBody):
    model_config = ConfigDict(str_strip_whitespace=True)


def _valid_business_id(value: str) -> str:
    problem = business_id_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _each_principle_once(values: list[OecdPrinciple]) -> list[OecdPrinciple]:
    problems = oecd_principles_problems(values)
    if problems:
        raise ValueError(problems[0].problem)
    return values


BusinessId = Annotated[
    str,
    AfterValidator(_valid_business_id),
    # The pattern is for the schema only: the domain's check says precisely what is wrong.
    Field(
        json_schema_extra={"pattern": BUSINESS_ID_PATTERN},
        description="Finnish business ID (Y-tunnus): seven digits, a hyphen and a check digit. "
        + BUSINESS_ID_CHECK_DIGIT_RULE,
        examples=["0112038-9"],
    ),
]
ShortText = Annotated[str, Field(min_length=1, max_length=100)]
# On the wire a list of the principles' numbers (1..5); the rule that each appears once is domain.py's.
OecdPrinciples = Annotated[
    list[Annotated[OecdPrinciple, Integer]], Field(min_length=1, max_length=5), AfterValidator(_each_principle_once)
]
Title = Annotated[str, Field(min_length=5, max_length=200)]
Summary = Annotated[str, Field(min_length=20, max_length=2000)]
LongText = Annotated[str, Field(min_length=20, max_length=10000)]


# --------------------------------------------------------------------------- calls


class CriterionIn(Strict):
    """One award criterion of a call (the same bounds as an override in awards)."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="snake_case identifier, unique in the call")
    name: str = Field(min_length=1, max_length=200)
    weight: float = Field(gt=0, le=1000)
    scale_min: int = Field(default=0, ge=-1000, le=1000)
    scale_max: int = Field(default=5, ge=-1000, le=1000)
    description: str = Field(default="", max_length=2000, description="what the criterion means, for the jurors")

    def criterion(self) -> Criterion:
        return Criterion(**self.model_dump())


# Each key once and each scale a range: domain.ensure_usable_criteria, applied by the use cases.
CriteriaIn = Annotated[list[CriterionIn], Field(min_length=1, max_length=20)]


T = TypeVar("T")


def _first_of_each(values: list[T]) -> list[T]:
    """Duplicates carry no meaning; keep the first occurrence's order."""
    return list(dict.fromkeys(values))


class CallIn(Strict):
    title: str = Field(min_length=3, max_length=200)
    description: str = Field(default="", max_length=5000)
    opens_at: DateTimeText
    closes_at: DateTimeText
    categories: list[Category] = Field(min_length=1)
    languages: list[Language] = Field(min_length=1)
    reviewers_per_iteration: Annotated[int, Integer] = Field(default=1, ge=1, le=2)
    criteria: CriteriaIn | None = Field(
        default=None, description="the award criteria; the Quality Innovation Award's five when left out"
    )

    @model_validator(mode="after")
    def _window(self) -> CallIn:
        problem = call_window_problem(opens_at=self.opens_at, closes_at=self.closes_at)
        if problem is not None:
            raise ValueError(problem)
        self.categories = _first_of_each(self.categories)
        self.languages = _first_of_each(self.languages)
        return self


class CallChangesIn(Strict):
    """A change to a call: any of these fields; those left out stay as they were. The window is checked as it
    will stand after the change."""

    description: str | None = Field(default=None, max_length=5000)
    opens_at: DateTimeText | None = None
    closes_at: DateTimeText | None = None
    categories: list[Category] | None = Field(default=None, min_length=1)
    languages: list[Language] | None = Field(default=None, min_length=1)
    criteria: CriteriaIn | None = None

    @model_validator(mode="after")
    def _deduplicate(self) -> CallChangesIn:
        if self.categories is not None:
            self.categories = _first_of_each(self.categories)
        if self.languages is not None:
            self.languages = _first_of_each(self.languages)
        return self


class CriterionOut(BaseModel):
    key: str
    name: str
    weight: float
    scale_min: int
    scale_max: int
    description: str = ""


class CallOut(BaseModel):
    id: uuid.UUID
    title: str
    description: str
    opens_at: datetime
    closes_at: datetime
    categories: list[Category]
    languages: list[Language]
    reviewers_per_iteration: int
    criteria: list[CriterionOut]
    revision: int
    open: bool
    created_by: str
    created_at: datetime
    updated_at: datetime


# --------------------------------------------------------------------------- cases


class ContactIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    language: Language = Language.EN
    role: str | None = Field(default=None, max_length=100)

    def contact(self) -> Contact:
        return Contact(name=self.name, email=self.email, language=self.language, role=self.role)


class OrganisationIn(Strict):
    id: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="the organisation your token carries (`org`); best left out. Any other id is refused (422)",
    )
    name: str = Field(min_length=1, max_length=300)
    business_id: BusinessId

    def organisation(self, *, token_id: str) -> Organisation:
        """The organisation as the body names it, its id the token's unless the body names one (which the use
        case then refuses unless it is the token's)."""
        return Organisation(id=self.id or token_id, name=self.name, business_id=self.business_id)


class CaseIn(Strict):
    call_id: uuid.UUID
    title: Title
    summary: Summary
    problem: LongText
    solution: LongText
    organisation: OrganisationIn
    team: list[ContactIn] = Field(default_factory=list, max_length=20)
    partners: list[ContactIn] = Field(default_factory=list, max_length=20)
    category: Category
    language: Language
    oecd_principles: OecdPrinciples
    iso_stage: IsoStage
    drivers: list[ShortText] = Field(default_factory=list, max_length=10)
    obstacles: list[ShortText] = Field(default_factory=list, max_length=10)


class RevisionIn(Strict):
    """A revision: any editable field, omitted ones stay as they were."""

    title: Title | None = None
    summary: Summary | None = None
    problem: LongText | None = None
    solution: LongText | None = None
    team: list[ContactIn] | None = Field(default=None, max_length=20)
    partners: list[ContactIn] | None = Field(default=None, max_length=20)
    iso_stage: IsoStage | None = None
    drivers: list[ShortText] | None = Field(default=None, max_length=10)
    obstacles: list[ShortText] | None = Field(default=None, max_length=10)
    oecd_principles: OecdPrinciples | None = None
    change_note: str = Field(default="", max_length=2000)
    addresses: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=200,
        description="the open feedback points (GET /cases/{id}/feedback) this revision addresses",
    )


class WithdrawIn(Strict):
    reason: str = Field(default="", max_length=2000)


class FeedbackPointOut(BaseModel):
    """A point review asked the submitter to address: open until a revision addresses it."""

    point_id: uuid.UUID
    iteration: int
    checklist_item: str
    comment: str
    raised_at: datetime
    status: PointStatus
    addressed_in_revision: int | None


class FeedbackPointsOut(BaseModel):
    case_id: uuid.UUID
    open: int  # how many points still wait for a revision
    items: list[FeedbackPointOut]


class TimelineItemOut(BaseModel):
    at: datetime
    kind: TimelineKind
    summary: str
    iteration: int | None = None
    details: dict[str, Any] = {}


class CaseOut(BaseModel):
    id: uuid.UUID
    call_id: uuid.UUID
    call_title: str
    title: str
    summary: str
    problem: str
    solution: str
    organisation: Organisation
    submitter_id: str
    submitter: Contact
    team: list[Contact]
    partners: list[Contact]
    category: Category
    language: Language
    oecd_principles: list[OecdPrinciple]
    iso_stage: IsoStage
    drivers: list[str]
    obstacles: list[str]
    status: CaseStatus
    stage: IsoStage
    revision: int
    iteration: int
    outcome: AwardOutcome | None = None
    feedback: str | None = None
    created_at: datetime
    updated_at: datetime
    timeline: list[TimelineItemOut] | None = None
