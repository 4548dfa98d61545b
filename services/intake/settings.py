"""Intake's configuration: the shared ``KIPINA_*`` settings plus ``KIPINA_INTAKE_*``."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KIPINA_INTAKE_", extra="ignore")

    database_url: str = "postgresql://intake:intake-dev@127.0.0.1:15432/intake"
    port: int = 8001
