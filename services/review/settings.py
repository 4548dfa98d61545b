"""Review's configuration: the shared ``KIPINA_*`` settings plus ``KIPINA_REVIEW_*``."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class ReviewSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KIPINA_REVIEW_", extra="ignore")

    database_url: str = "postgresql://review:review-dev@127.0.0.1:15432/review"
    port: int = 8002
    # How long an iteration may stay open before it escalates.
    iteration_timebox_hours: float = Field(72.0, gt=0)
    # How long a claim holds a task; fractions are allowed (tests use a lease of a second or so).
    lease_minutes: float = Field(30.0, gt=0)
    # How often the escalation job looks for overdue iterations.
    escalation_interval_s: float = Field(60.0, gt=0)

    @property
    def timebox(self) -> timedelta:
        return timedelta(hours=self.iteration_timebox_hours)

    @property
    def lease(self) -> timedelta:
        return timedelta(minutes=self.lease_minutes)
