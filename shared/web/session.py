"""The pages' session and CSRF protection, in the browser's cookies.

The session cookie holds the same JWT as the API's bearer token (shared/auth.py), ``HttpOnly`` and
``SameSite=Lax`` (``Secure`` with ``KIPINA_COOKIE_SECURE``), so a script on the page cannot read it and other
sites' forms do not carry it. CSRF is a signed double-submit: the browser keeps a random nonce in a cookie, every
form carries ``HMAC(JWT secret, nonce)`` in a hidden field, and a POST whose field does not match its cookie is
refused. Another site can neither read the cookie nor compute the HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Final
from urllib.parse import parse_qs

SESSION_COOKIE: Final = "kipina_session"
CSRF_COOKIE: Final = "kipina_csrf"
CSRF_FIELD: Final = "csrf_token"
SESSION_TTL: Final = timedelta(hours=12)
LANGUAGE_COOKIE_MAX_AGE: Final = 365 * 24 * 3600


def new_nonce() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(secret: str, nonce: str) -> str:
    """The hidden field's value for forms of the browser holding ``nonce``."""
    return hmac.new(secret.encode(), b"kipina-csrf:" + nonce.encode(), hashlib.sha256).hexdigest()


def csrf_valid(secret: str, *, nonce: str | None, sent: str | None) -> bool:
    if not nonce or not sent:
        return False
    return hmac.compare_digest(csrf_token(secret, nonce), sent)


def parse_form(body: bytes) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body → its fields (the first value of each); garbage → no fields."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {}
    return {name: values[0] for name, values in parse_qs(text, keep_blank_values=True).items()}


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of this site only, never another site (an open redirect)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    return value
