"""The system's parts, defined once: services, their ports, databases, topics and dead-letter topics.

Everything that names a service or a topic reads it from here: ``shared`` (topics, settings
defaults, consumer groups), ``deploy/local.py`` (topics to create, databases and roles),
``deploy/stack.py`` (processes and ports), the test support, and the checks of
``deploy/docker/postgres-init.sql`` and ``docker-compose.yml`` (tests/unit/test_registry.py).

Standard library only: ``deploy/local.py`` imports it before any package is installed.

Adding a fifth service: one ``Part`` here, then its own folder ``services/<name>/`` with the
usual layers and a ``ServiceDefinition`` (docs/adding-a-service.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

HOST: Final = "127.0.0.1"
TOPIC_PARTITIONS: Final = 6


@dataclass(frozen=True)
class Part:
    """One service of the system."""

    name: str
    port: int
    title: str

    @property
    def database(self) -> str:
        """Its own PostgreSQL database (and the login role that owns it)."""
        return self.name

    @property
    def topic(self) -> str:
        """The topic its events are published on."""
        return f"kipina.{self.name}.v1"

    @property
    def dead_letter_topic(self) -> str:
        """Where its consumer puts messages it gave up on."""
        return dead_letter_topic_of(self.name)

    @property
    def consumer_group(self) -> str:
        return consumer_group_of(self.name)

    @property
    def env_prefix(self) -> str:
        """Prefix of its settings in the environment, e.g. ``KIPINA_REVIEW_``."""
        return f"KIPINA_{self.name.upper()}_"

    @property
    def database_env(self) -> str:
        return f"{self.env_prefix}DATABASE_URL"

    @property
    def dev_password(self) -> str:
        """The development password of its database role (``make up``, docker-compose)."""
        return f"{self.name}-dev"

    def dev_database_url(self, *, host: str = HOST, port: int = 15432) -> str:
        return f"postgresql://{self.name}:{self.dev_password}@{host}:{port}/{self.database}"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def dead_letter_topic_of(name: str) -> str:
    """The naming rule, also for consumers outside the registry (the tests' probe service)."""
    return f"kipina.{name}.dlq"


def consumer_group_of(name: str) -> str:
    return f"kipina-{name}"


INTAKE: Final = Part("intake", 8001, "Intake")
REVIEW: Final = Part("review", 8002, "Review")
AWARDS: Final = Part("awards", 8003, "Awards")
NOTIFY: Final = Part("notify", 8004, "Notify")

PARTS: Final[tuple[Part, ...]] = (INTAKE, REVIEW, AWARDS, NOTIFY)
SERVICE_NAMES: Final[tuple[str, ...]] = tuple(p.name for p in PARTS)
# Events about the running system rather than a case (a dead letter arrived), which every service publishes and
# notify reads (shared.events.DeadLetteredV1).
OPERATIONS_TOPIC: Final = "kipina.operations.v1"
EVENT_TOPICS: Final[tuple[str, ...]] = (*(p.topic for p in PARTS), OPERATIONS_TOPIC)
DEAD_LETTER_TOPICS: Final[tuple[str, ...]] = tuple(p.dead_letter_topic for p in PARTS)
ALL_TOPICS: Final[tuple[str, ...]] = EVENT_TOPICS + DEAD_LETTER_TOPICS

# The development mail sink (deploy/mailsink.py) that notify sends to under `make up`.
MAIL_SINK_PORT: Final = 1025


def part(name: str) -> Part:
    """The part called ``name``; ``KeyError`` names the known ones."""
    for p in PARTS:
        if p.name == name:
            return p
    raise KeyError(f"no service {name!r}; the registry has {', '.join(SERVICE_NAMES)}")


def postgres_init_sql() -> str:
    """The docker-compose PostgreSQL init script: one database and login role per service.

    ``deploy/docker/postgres-init.sql`` is this text (a test keeps the two equal;
    ``python -m shared.registry postgres-init > deploy/docker/postgres-init.sql`` rewrites it).
    """
    lines = [
        "-- One database and one login role per service; a role reaches only its own database.",
        "-- Generated from shared/registry.py: python -m shared.registry postgres-init",
    ]
    lines += [f"CREATE ROLE {p.name} LOGIN PASSWORD '{p.dev_password}';" for p in PARTS]
    lines += [f"CREATE DATABASE {p.database} OWNER {p.name};" for p in PARTS]
    lines.append(f"REVOKE CONNECT, TEMPORARY ON DATABASE {', '.join(p.database for p in PARTS)} FROM PUBLIC;")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["postgres-init"]:
        sys.stdout.write(postgres_init_sql())
    else:
        sys.exit("usage: python -m shared.registry postgres-init")
