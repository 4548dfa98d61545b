"""Review's configuration: the shared ``KIPINA_*`` settings plus ``KIPINA_REVIEW_*``."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from shared import registry
from shared.settings import ServiceSettings, settings_config


class ReviewSettings(ServiceSettings):
    model_config = settings_config(registry.REVIEW)

    database_url: str = registry.REVIEW.dev_database_url()
    port: int = registry.REVIEW.port
    # How long an iteration may stay open before it escalates.
    iteration_timebox_hours: float = Field(72.0, gt=0)
    # How long a claim holds a task; fractions are allowed (tests use a lease of a second or so).
    lease_minutes: float = Field(30.0, gt=0)
    # How often the escalation job looks for overdue iterations.
    escalation_interval_s: float = Field(60.0, gt=0)
    # TaskDueSoonV1 reminders to the reviewer holding a task: this long before the lease runs out (fractions allowed),
    lease_reminder_minutes: float = Field(5.0, gt=0)
    # and this long before the iteration is due (the SLA; fractions allowed).
    sla_reminder_hours: float = Field(24.0, gt=0)
    # How often the reminder job looks for tasks to remind of.
    reminder_interval_s: float = Field(60.0, gt=0)

    @property
    def timebox(self) -> timedelta:
        return timedelta(hours=self.iteration_timebox_hours)

    @property
    def lease(self) -> timedelta:
        return timedelta(minutes=self.lease_minutes)

    @property
    def lease_reminder(self) -> timedelta:
        return timedelta(minutes=self.lease_reminder_minutes)

    @property
    def sla_reminder(self) -> timedelta:
        return timedelta(hours=self.sla_reminder_hours)
