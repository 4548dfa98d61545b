"""A service's own domain at a glance, and its own dependencies, for the operator dashboard (``GET /ops``).

A service may give ``ServiceDefinition.dashboard``: a callable that runs one of its workflow.py use cases and returns
a few labelled tables (``Glance``), which the dashboard renders in a section of its own. Captions and column headings
are word keys (shared/web/i18n.py); cells are shown as they are, except a ``Word`` (a word key, shown in the page's
language), a ``Label`` (a vocabulary's value, likewise) and a ``timedelta`` (a duration: hours, minutes and
seconds, with days in front when there are any).

It may also give ``ServiceDefinition.dependency_checks``: per dependency of its own (notify's SMTP server and webhook
subscribers), a callable that looks at it and returns its ``Health``. The dashboard shows them beside the database and
Kafka; ``/health/ready`` does not ask them, so a dependency the service retries on its own never takes it out of
service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.runtime import Runtime


@dataclass(frozen=True)
class Word:
    """A cell that is a word of shared/web/i18n.py, shown in the page's language (a status, a flag)."""

    key: str


@dataclass(frozen=True)
class Label:
    """A cell that is a value of a fixed vocabulary (shared/web/i18n.py ``VOCABULARIES``: a category, a status),
    shown in the page's language, or as its code when the vocabulary has no words for it."""

    vocabulary: str
    value: str


Cell = str | int | float | datetime | timedelta | Word | Label | None


@dataclass(frozen=True)
class Glance:
    caption: str
    columns: tuple[str, ...]
    rows: Sequence[tuple[Cell, ...]]
    test_id: str


DashboardHook = Callable[[Runtime], Awaitable[Sequence[Glance]]]


@dataclass(frozen=True)
class Health:
    """One dependency as a service's own check saw it: ``ok``, what was seen (a word key and its values) and,
    when it did not answer, the error as its client told it."""

    ok: bool
    detail: str | None = None
    values: Mapping[str, Cell] = field(default_factory=dict)
    error: str | None = None


DependencyCheck = Callable[[Runtime], Awaitable[Health]]
