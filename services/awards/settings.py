"""Awards' configuration: the shared ``KIPINA_*`` settings plus ``KIPINA_AWARDS_*``."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from shared import registry
from shared.settings import ServiceSettings, settings_config


class AwardsSettings(ServiceSettings):
    model_config = settings_config(registry.AWARDS)

    database_url: str = registry.AWARDS.dev_database_url()
    port: int = registry.AWARDS.port
    # A juror's time to score a case from their assignment, when the jury sets no deadline for the call;
    # fractions are allowed.
    scoring_period_days: float = Field(14.0, gt=0)
    # How long before their deadline a juror who has not scored is reminded (ScoringDueV1); fractions allowed.
    scoring_reminder_days: float = Field(3.0, ge=0)
    # How often the reminder job looks for jurors to remind.
    scoring_reminder_interval_s: float = Field(60.0, gt=0)

    @property
    def scoring_period(self) -> timedelta:
        return timedelta(days=self.scoring_period_days)

    @property
    def scoring_reminder_lead(self) -> timedelta:
        return timedelta(days=self.scoring_reminder_days)
