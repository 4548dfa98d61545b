"""Kafka topic names, from the registry: one topic per producing service, one dead-letter topic per consumer."""

from typing import Final

from shared import registry

INTAKE: Final = registry.INTAKE.topic
REVIEW: Final = registry.REVIEW.topic
AWARDS: Final = registry.AWARDS.topic
NOTIFY: Final = registry.NOTIFY.topic
OPERATIONS: Final = registry.OPERATIONS_TOPIC

EVENT_TOPICS: Final = registry.EVENT_TOPICS
SERVICES: Final = registry.SERVICE_NAMES
ALL_TOPICS: Final = registry.ALL_TOPICS


def dead_letter_topic(service: str) -> str:
    """The dead-letter topic of one consuming service, e.g. ``kipina.review.dlq``."""
    return registry.dead_letter_topic_of(service)
