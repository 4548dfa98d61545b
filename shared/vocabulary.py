"""The domain's shared words: languages, categories, ISO 56002 stages, OECD principles, outcomes.

These appear in event payloads, so every service agrees on them.
"""

from enum import IntEnum, StrEnum


class Language(StrEnum):
    FI = "fi"
    SV = "sv"
    EN = "en"


class Role(StrEnum):
    SUBMITTER = "submitter"
    REVIEWER = "reviewer"
    JUROR = "juror"
    OPERATOR = "operator"


class Category(StrEnum):
    PUBLIC_SECTOR = "public_sector"
    EDUCATION = "education"
    HEALTH_CARE = "health_care"
    RESPONSIBLE_RENEWABLE = "responsible_renewable"
    POTENTIAL_INNOVATIONS = "potential_innovations"
    BUSINESS_MICRO = "business_micro"
    BUSINESS_SME = "business_sme"
    BUSINESS_LARGE = "business_large"


class OecdPrinciple(IntEnum):
    """The OECD Declaration on Public Sector Innovation's five principles."""

    EMBRACE_AND_ENHANCE = 1
    ENCOURAGE_AND_EQUIP = 2
    CULTIVATE_PARTNERSHIPS = 3
    SUPPORT_EXPLORATION = 4
    DIFFUSE_LESSONS = 5


class IsoStage(StrEnum):
    """ISO 56002 innovation process stages, in order."""

    OPPORTUNITY = "opportunity"
    CONCEPT = "concept"
    VALIDATION = "validation"
    SOLUTION = "solution"
    DEPLOYMENT = "deployment"

    def next(self) -> "IsoStage | None":
        stages = list(IsoStage)
        i = stages.index(self)
        return stages[i + 1] if i + 1 < len(stages) else None


class AwardOutcome(StrEnum):
    AWARD_WINNER = "award_winner"
    PRIZE_WINNER = "prize_winner"
    HONOURABLE_MENTION = "honourable_mention"
    FINALIST = "finalist"
    NOT_AWARDED = "not_awarded"


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"
    IN_APP = "in_app"
