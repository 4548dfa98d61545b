"""Awards' configuration: the shared ``KIPINA_*`` settings plus ``KIPINA_AWARDS_*``."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class AwardsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KIPINA_AWARDS_", extra="ignore")

    database_url: str = "postgresql://awards:awards-dev@127.0.0.1:15432/awards"
    port: int = 8003
