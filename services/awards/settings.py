"""Awards' configuration: the shared ``KIPINA_*`` settings plus ``KIPINA_AWARDS_*``."""

from __future__ import annotations

from shared import registry
from shared.settings import ServiceSettings, settings_config


class AwardsSettings(ServiceSettings):
    model_config = settings_config(registry.AWARDS)

    database_url: str = registry.AWARDS.dev_database_url()
    port: int = registry.AWARDS.port
