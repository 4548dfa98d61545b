"""Notify's configuration (``KIPINA_NOTIFY_*``)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from services.notify.domain import NotifyRules
from services.notify.sealing import DEV_WEBHOOK_SECRET_KEY, SecretBox
from shared import registry
from shared.settings import ServiceSettings, settings_config


class NotifySettings(ServiceSettings):
    model_config = settings_config(registry.NOTIFY)

    port: int = registry.NOTIFY.port
    database_url: str = registry.NOTIFY.dev_database_url()

    # SMTP (defaults: a local development mail sink)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    smtp_timeout_s: float = 10.0
    mail_from: str = "Kipinä <no-reply@kipina.local>"

    # delivery worker: attempts per delivery (not the consumer's handler_* retries of an event)
    delivery_max_attempts: int = 5
    delivery_backoff_base_s: float = 2.0
    delivery_backoff_max_s: float = 600.0
    delivery_poll_s: float = 0.5
    delivery_lease_s: float = 120.0
    delivery_batch_size: int = 20
    webhook_timeout_s: float = 10.0
    # Webhook targets must be public addresses (docs/people.md, "Webhooks"); development's local receivers run on
    # 127.0.0.1, so `make up` and the tests allow loopback (never private, link-local or metadata addresses).
    webhook_allow_loopback: bool = False
    # Fernet keys (comma-separated) sealing webhook secrets at rest: the first seals, all open (services/notify/
    # sealing.py). The default is development's own; set real keys outside development.
    webhook_secret_keys: SecretStr = SecretStr(DEV_WEBHOOK_SECRET_KEY)
    # the operator dashboard's webhook check looks at deliveries attempted this long ago at most
    webhook_health_window_minutes: float = Field(15.0, gt=0)

    # comma-separated addresses of the operators (escalated iterations, decisions, a call's evaluation complete,
    # dead letters: docs/people.md); empty = nobody
    operator_emails: str = ""
    # operators hear of one service's dead letters at most once per window (the dashboard lists them all)
    dead_letter_alert_window_minutes: float = Field(60.0, gt=0)

    def operator_email_list(self) -> list[str]:
        return [e.strip() for e in self.operator_emails.split(",") if e.strip()]

    def secret_box(self) -> SecretBox:
        return SecretBox.from_setting(self.webhook_secret_keys.get_secret_value())

    def webhook_secret_keys_are_default(self) -> bool:
        return self.webhook_secret_keys.get_secret_value() == DEV_WEBHOOK_SECRET_KEY

    def rules(self) -> NotifyRules:
        return NotifyRules(
            operator_emails=tuple(self.operator_email_list()),
            dead_letter_alert_window_minutes=self.dead_letter_alert_window_minutes,
        )
