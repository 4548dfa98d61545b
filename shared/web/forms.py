"""What every page's forms need to speak the API's language: its validation messages by field, form text as the
JSON values its request schemas take, and refusals (``shared.errors``) by field. See docs/pages.md."""

from __future__ import annotations

from pydantic import ValidationError

from shared.errors import Invalid


def validation_problems(exc: ValidationError) -> dict[str, str]:
    """The API's messages (as shared/http_errors.py words them), keyed by the field's dotted path; a rule of the
    whole body (no field) is keyed ``body``."""
    problems: dict[str, str] = {}
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ())) or "body"
        problems.setdefault(where, str(err.get("msg", "invalid")).removeprefix("Value error, "))
    return problems


def refused_problems(exc: Invalid) -> dict[str, str]:
    """A use case's refusal by field (``body`` when it names none), first problem of each field."""
    problems: dict[str, str] = {}
    for p in exc.problems:
        problems.setdefault(p.field, p.problem)
    if not problems:
        problems["body"] = exc.message
    return problems


def number(text: str) -> int | float | str:
    """A form's number as the JSON number the API's schema takes; anything else as sent, for the schema's message."""
    text = text.strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def utc_datetime(text: str) -> str | None:
    """A ``datetime-local`` field (which has no offset) read as UTC, as the API's date-time text; empty → None."""
    text = text.strip()
    if not text:
        return None
    return f"{text}:00+00:00" if len(text) == 16 else text
