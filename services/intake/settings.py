"""Intake's configuration: the shared ``KIPINA_*`` settings plus ``KIPINA_INTAKE_*``."""

from __future__ import annotations

from pydantic import Field

from shared import registry
from shared.settings import ServiceSettings, settings_config


class IntakeSettings(ServiceSettings):
    model_config = settings_config(registry.INTAKE)

    database_url: str = registry.INTAKE.dev_database_url()
    port: int = registry.INTAKE.port

    # Submissions (POST /cases, the submission page) taken in any minute per submitter (the token's sub) and per
    # client address; 0 = no limit. Counted per process: n instances take n times as many (services/intake/
    # throttling.py). An agency's submitter files a few cases a call; many may share an office's address.
    submissions_per_submitter_per_minute: int = Field(10, ge=0)
    submissions_per_address_per_minute: int = Field(60, ge=0)
    # Proxies whose X-Forwarded-For names the client (comma-separated addresses or networks); empty = none
    trusted_proxies: str = ""
