"""What every page's forms need to speak the API's language: its messages at the inputs they are about (from a
request schema's ``ValidationError`` or a use case's refusal, ``shared.errors``), and form text as the JSON values
its request schemas take. See docs/pages.md, "Forms that speak the API's language"."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Final

from pydantic import ValidationError

from shared.errors import Refused

# The messages of a form by the input they are shown at; ``BODY`` holds those of no input (above the form).
Problems = dict[str, list[str]]
BODY: Final = "body"


def _same_path(path: str) -> str:
    return path


def field_problems(exc: ValidationError | Refused, where: Callable[[str], str] = _same_path) -> Problems:
    """The API's messages (worded as shared/http_errors.py words them), keyed by the form input each is about.

    ``where`` names the input for an API field path (``jurors.0.email`` → ``juror.0.email``); the default is
    the path itself. A rule of the whole body, a refusal that names no field (its message) and a path ``where``
    places at no input (``""``) are keyed ``BODY``. Every message is kept, in order, each once per input.
    """
    if isinstance(exc, ValidationError):
        found = [
            (".".join(str(p) for p in err.get("loc", ())), str(err.get("msg", "invalid")).removeprefix("Value error, "))
            for err in exc.errors()
        ]
    else:
        found = [(p.field, p.problem) for p in exc.problems] or [("", exc.message)]
    problems: Problems = {}
    for path, message in found:
        shown = problems.setdefault((where(path) if path else "") or BODY, [])
        if message not in shown:
            shown.append(message)
    return problems


def nearest_input(inputs: Collection[str]) -> Callable[[str], str]:
    """A ``where`` for ``field_problems`` when a form's inputs are named by the API's paths: the longest of
    ``inputs`` the path starts with (``oecd_principles.0`` → ``oecd_principles``), else no input."""

    def where(path: str) -> str:
        parts = path.split(".")
        while parts and ".".join(parts) not in inputs:
            parts.pop()
        return ".".join(parts)

    return where


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
