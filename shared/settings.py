"""Configuration from the environment (pydantic-settings).

Settings every service shares are read from ``KIPINA_*``; a service's own settings
from ``KIPINA_<SERVICE>_*`` (e.g. ``KIPINA_REVIEW_DATABASE_URL``). Defaults match
the local infrastructure started by ``make up`` (see deploy/README.md).
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.registry import Part

DEV_JWT_SECRET = "kipina-development-secret-change-me-0123456789"


class ServiceSettings(BaseSettings):
    """Base class; each service subclasses it with its own ``env_prefix``."""

    model_config = SettingsConfigDict(env_prefix="KIPINA_SERVICE_", extra="ignore")

    # shared by every service: explicit aliases, so the service prefix does not apply
    kafka_bootstrap: str = Field("127.0.0.1:19092", validation_alias="KIPINA_KAFKA_BOOTSTRAP")
    jwt_secret: SecretStr = Field(SecretStr(DEV_JWT_SECRET), validation_alias="KIPINA_JWT_SECRET")
    jwt_issuer: str = Field("kipina", validation_alias="KIPINA_JWT_ISSUER")
    log_level: str = Field("INFO", validation_alias="KIPINA_LOG_LEVEL")
    log_format: str = Field("json", validation_alias="KIPINA_LOG_FORMAT")  # json | console
    # A real identity provider (docs/pages.md): with a JWKS URL, tokens are RS256 of that provider, checked for
    # its issuer and audience; without, the HS256 development secret above (issuer KIPINA_JWT_ISSUER).
    oidc_issuer: str = Field("", validation_alias="KIPINA_OIDC_ISSUER")
    oidc_audience: str = Field("", validation_alias="KIPINA_OIDC_AUDIENCE")
    oidc_jwks_url: str = Field("", validation_alias="KIPINA_OIDC_JWKS_URL")
    # Pages (shared/web): the development sign-in that lists the demo people (on under `make up` only), the
    # session cookie's Secure flag (set it behind HTTPS), and where a deployment's own sign-in starts.
    dev_sign_in: bool = Field(False, validation_alias="KIPINA_DEV_SIGN_IN")
    cookie_secure: bool = Field(False, validation_alias="KIPINA_COOKIE_SECURE")
    sign_in_url: str = Field("", validation_alias="KIPINA_SIGN_IN_URL")

    # per service (KIPINA_<SERVICE>_...)
    database_url: str = "postgresql://postgres@127.0.0.1:15432/postgres"
    host: str = "127.0.0.1"
    port: int = 8000
    db_pool_min: int = 1
    db_pool_max: int = 10
    # The event path's own connections (the consumer's lanes, one per partition number, and the outbox relay), so
    # a surge of requests queueing for the pool above never holds up the events already accepted.
    db_event_pool_max: int = 7
    # Requests in hand at once; past it, 503 with Retry-After at once rather than an unbounded queue (0: no limit).
    max_requests_in_flight: int = 64
    # Kafka consumer group; empty means kipina-<service>. Tests give each run its own.
    consumer_group: str = ""
    # consumer: bounded in-process retries before a message is dead-lettered
    handler_max_attempts: int = 5
    handler_backoff_base_s: float = 0.2
    handler_backoff_max_s: float = 5.0
    # consumer: records taken from Kafka at a time (across the service's partitions); each partition's share is
    # handled in one transaction with a savepoint per event, and the offsets are committed once per batch
    consumer_max_records: int = 500
    # outbox relay
    relay_poll_interval_s: float = 1.0
    relay_batch_size: int = 200
    # how often the consumer group's lag is measured (for /metrics and /ops/status)
    lag_interval_s: float = 15.0
    # retention of the reliability tables (see shared/housekeeping.py)
    housekeeping_interval_s: float = 3600.0
    outbox_retention_hours: float = 168.0
    inbox_retention_hours: float = 720.0
    dead_letter_retention_hours: float = 720.0
    # HTTP
    max_request_bytes: int = 1_000_000


def settings_config(part: Part) -> SettingsConfigDict:
    """A service's settings read ``KIPINA_<SERVICE>_*`` (the registry's prefix) besides the shared ``KIPINA_*``."""
    return SettingsConfigDict(env_prefix=part.env_prefix, extra="ignore")


def jwt_secret_is_default(settings: ServiceSettings) -> bool:
    return settings.jwt_secret.get_secret_value() == DEV_JWT_SECRET
