"""structlog setup: JSON lines (or a console renderer for people), with context from contextvars.

Handlers bind ``case_id`` and ``correlation_id`` with ``bind_event_context`` so that
every log line written while a message is processed carries them; ``trace_id`` and
``span_id`` come from the current OpenTelemetry span (shared/tracing.py) on every line.

No personal data or secrets in the logs: log calls name ids (case, delivery, webhook, user), never a person's
name or address, a token or a secret. ``redact`` is the safety net behind that rule, for text the code does not
write itself (an SMTP server's refusal naming the recipient, a validation error quoting its input, a traceback):
on every line, of Kipinä's own loggers and of the libraries', it blanks the values of fields named like secrets
and replaces e-mail addresses, JWTs and the password of a URL in any text.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog

from shared.tracing import log_ids


def add_trace_ids(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    """Put the current span's trace and span ids next to the correlation id."""
    for key, value in log_ids().items():
        event.setdefault(key, value)
    return event


# Fields whose values are never written, whatever they hold.
SECRET_FIELDS = frozenset(
    {"password", "passwd", "secret", "token", "access_token", "authorization", "cookie", "jwt", "api_key"}
)
_EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")
_JWT = re.compile(r"\beyJ[\w-]*\.[\w-]+\.[\w-]*")
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*):[^\s@/]*@", re.IGNORECASE)


def _scrub(text: str) -> str:
    if "@" in text:
        text = _URL_PASSWORD.sub(r"\1:[redacted]@", text)
        text = _EMAIL.sub("[email]", text)
    if "eyJ" in text:
        text = _JWT.sub("[token]", text)
    return text


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return _scrub(value)
    if isinstance(value, dict):
        return {k: "[redacted]" if str(k).lower() in SECRET_FIELDS else _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    return value


def redact(logger: Any, method: str, event: MutableMapping[str, Any]) -> dict[str, Any]:
    """The safety net for personal data and secrets (see the module's docstring): after the exception is
    formatted, before the line is rendered."""
    return {key: "[redacted]" if key.lower() in SECRET_FIELDS else _redacted(value) for key, value in event.items()}


def configure_logging(service: str, *, level: str = "INFO", fmt: str = "json") -> None:
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False) if fmt == "console" else structlog.processors.JSONRenderer()
    )
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_trace_ids,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared_processors,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=True,
    )
    # Route stdlib logging (uvicorn, aiokafka, faststream) through the same renderer.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared_processors, structlog.stdlib.add_logger_name],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # FastStream adds its own coloured handler to a logger that has none; give it ours.
    faststream_logger = logging.getLogger("faststream")
    faststream_logger.handlers[:] = [handler]
    faststream_logger.propagate = False
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    structlog.contextvars.bind_contextvars(service=service)


@contextmanager
def bind_event_context(*, case_id: str | None, correlation_id: str | None, **extra: Any) -> Iterator[None]:
    """Bind case and correlation ids (and extras) for the duration of one unit of work."""
    with structlog.contextvars.bound_contextvars(case_id=case_id, correlation_id=correlation_id, **extra):
        yield


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
