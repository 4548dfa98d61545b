"""Webhook secrets sealed at rest: Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) under keys from
the configuration (``KIPINA_NOTIFY_WEBHOOK_SECRET_KEYS``), so a copy of notify's database, a backup or a dump
does not hand out the secrets that sign webhook bodies.

Several keys rotate: the first seals every new secret, and every listed key opens what it sealed. To rotate, put
a new key first and keep the old ones listed, then restart notify: at start-up it seals every stored secret again
under the first key (``workflow.reseal_webhook_secrets``, logged "webhook secrets sealed under the first key"),
after which the old keys may go.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

# Development only: notify warns at start-up when it still seals with this key (as with KIPINA_JWT_SECRET).
DEV_WEBHOOK_SECRET_KEY = "RXdGPHxba6Ph6OzhuJfF9sEox54cGQhyZWH_8sN4kfw="


class SecretUnreadable(Exception):
    """A sealed secret that none of the configured keys opens (its key was removed from the list)."""


class SecretBox:
    """Seals and opens webhook secrets with the configured keys (the first seals)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("KIPINA_NOTIFY_WEBHOOK_SECRET_KEYS names no key")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except ValueError as exc:  # never echo the key itself
            raise ValueError(
                "KIPINA_NOTIFY_WEBHOOK_SECRET_KEYS: each key must be 32 url-safe base64-encoded bytes "
                "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
            ) from exc

    @classmethod
    def from_setting(cls, value: str) -> SecretBox:
        """Keys from the setting's comma-separated list."""
        return cls([k.strip() for k in value.split(",") if k.strip()])

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise SecretUnreadable("no configured key opens this webhook secret") from exc

    def reseal(self, sealed: str) -> str:
        """The same secret sealed under the first key."""
        try:
            return self._fernet.rotate(sealed.encode()).decode()
        except InvalidToken as exc:
            raise SecretUnreadable("no configured key opens this webhook secret") from exc
