"""Intake's configuration: the shared ``KIPINA_*`` settings plus ``KIPINA_INTAKE_*``."""

from __future__ import annotations

from shared import registry
from shared.settings import ServiceSettings, settings_config


class IntakeSettings(ServiceSettings):
    model_config = settings_config(registry.INTAKE)

    database_url: str = registry.INTAKE.dev_database_url()
    port: int = registry.INTAKE.port
