"""Refusals: what a service's rules say when they turn a request down. No I/O, no HTTP.

Domain and workflow code raise these; ``shared/http_errors.py`` turns them into HTTP errors in
one place — ``NotFound`` → 404, ``Conflict`` → 409, ``Invalid`` → 422, ``TooManyRequests`` → 429 with
``Retry-After`` — with the body
``{"error": <code>, "message": <for people>, ...details, "problems": [...]}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: where (``field``) and what."""

    field: str
    problem: str


class Refused(Exception):
    status_code: ClassVar[int] = 400
    default_error: ClassVar[str] = "refused"

    def __init__(
        self, message: str, *, error: str | None = None, problems: Sequence[Problem] = (), **details: Any
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error = error or self.default_error
        self.problems = list(problems)
        self.details = details

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "message": self.message, **self.details}
        if self.problems:
            body["problems"] = [{"field": p.field, "problem": p.problem} for p in self.problems]
        return body


class NotFound(Refused):
    """No such thing, or not one the requester may see (the two are never told apart)."""

    status_code = 404
    default_error = "not_found"


class Conflict(Refused):
    """The request does not fit the current state."""

    status_code = 409
    default_error = "conflict"


class Invalid(Refused):
    """The request is well-formed but breaks the rules; ``problems`` says where."""

    status_code = 422
    default_error = "validation_failed"

    @classmethod
    def of(cls, problems: Sequence[Problem]) -> Invalid:
        """Refuse with a message that sums up the first few problems."""
        return cls("; ".join(f"{p.field}: {p.problem}" for p in problems[:5]), problems=problems)


class TooManyRequests(Refused):
    """Too many requests of one kind lately; ``retry_after_s`` (also the ``Retry-After`` header) says when the
    next one will be taken."""

    status_code = 429
    default_error = "too_many_requests"

    def __init__(self, message: str, *, retry_after_s: int, error: str | None = None, **details: Any) -> None:
        super().__init__(message, error=error, retry_after_s=retry_after_s, **details)
        self.retry_after_s = retry_after_s
