"""Kafka topic names. One topic per producing service; each consumer has its own dead-letter topic."""

from typing import Final

INTAKE: Final = "kipina.intake.v1"
REVIEW: Final = "kipina.review.v1"
AWARDS: Final = "kipina.awards.v1"
NOTIFY: Final = "kipina.notify.v1"

EVENT_TOPICS: Final = (INTAKE, REVIEW, AWARDS, NOTIFY)
SERVICES: Final = ("intake", "review", "awards", "notify")


def dead_letter_topic(service: str) -> str:
    """The dead-letter topic of one consuming service, e.g. ``kipina.review.dlq``."""
    return f"kipina.{service}.dlq"


ALL_TOPICS: Final = EVENT_TOPICS + tuple(dead_letter_topic(s) for s in SERVICES)
