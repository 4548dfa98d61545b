"""Prometheus metrics shared by every service (exposed at ``/metrics``)."""

import math
from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "kipina_events_consumed_total", "Events taken from Kafka, by outcome", ["consumer", "event_type", "outcome"]
)
EVENT_HANDLING_SECONDS = Histogram(
    "kipina_event_handling_seconds", "Time to handle one event, inbox to commit", ["consumer", "event_type"]
)
HANDLER_RETRIES = Counter("kipina_handler_retries_total", "Handler attempts that failed and were retried", ["consumer"])
DEAD_LETTERS = Counter("kipina_dead_letters_total", "Messages sent to the dead-letter topic", ["consumer", "reason"])
OUTBOX_PUBLISHED = Counter("kipina_outbox_published_total", "Outbox rows published to Kafka")
OUTBOX_PUBLISH_ERRORS = Counter("kipina_outbox_publish_errors_total", "Outbox relay rounds that failed")
OUTBOX_BACKLOG = Gauge("kipina_outbox_backlog", "Unpublished outbox rows")
OUTBOX_OLDEST_AGE = Gauge("kipina_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row")
HTTP_REQUESTS = Counter(
    "kipina_http_requests_total", "HTTP requests, by route template and status", ["method", "route", "status"]
)
HTTP_REQUEST_SECONDS = Histogram("kipina_http_request_seconds", "HTTP request latency", ["method", "route"])
CONSUMER_LAG = Gauge(
    "kipina_consumer_lag", "Messages the consumer group is behind the end of a topic", ["group", "topic"]
)
CONSUMER_PARTITION_LAG = Gauge(
    "kipina_consumer_partition_lag",
    "Messages the consumer group is behind the end of a topic partition",
    ["group", "topic", "partition"],
)


@dataclass(frozen=True)
class HandlerHealth:
    """How this process's event handlers fared since it started: latency quantiles (seconds) and error rate."""

    handled: int
    p50: float | None
    p95: float | None
    p99: float | None
    failed_attempts: int
    error_rate: float | None


def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """The q-quantile of a histogram from its cumulative bucket counts ``[(upper bound, count), ...]``.

    As PromQL's ``histogram_quantile``: linear interpolation inside the bucket holding the rank; a rank in the
    ``+Inf`` bucket answers the highest finite bound. None when nothing was observed.
    """
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


def _samples(metric: Counter | Histogram, name: str, consumer: str) -> list[tuple[dict[str, str], float]]:
    return [
        (s.labels, s.value)
        for family in metric.collect()
        for s in family.samples
        if s.name == name and s.labels.get("consumer") == consumer
    ]


def handler_health(consumer: str) -> HandlerHealth:
    """Read this process's own metrics for ``consumer``: bucket counts summed over event types.

    Failed attempts are retried attempts plus dead-lettered messages; the error rate is their share of all attempts.
    """
    per_bound: dict[float, float] = {}
    for labels, value in _samples(EVENT_HANDLING_SECONDS, "kipina_event_handling_seconds_bucket", consumer):
        bound = float(labels["le"])
        per_bound[bound] = per_bound.get(bound, 0.0) + value
    buckets = sorted(per_bound.items())
    handled = int(buckets[-1][1]) if buckets else 0
    failed = int(
        sum(v for _, v in _samples(HANDLER_RETRIES, "kipina_handler_retries_total", consumer))
        + sum(v for _, v in _samples(DEAD_LETTERS, "kipina_dead_letters_total", consumer))
    )
    attempts = handled + failed
    return HandlerHealth(
        handled=handled,
        p50=quantile(0.5, buckets),
        p95=quantile(0.95, buckets),
        p99=quantile(0.99, buckets),
        failed_attempts=failed,
        error_rate=failed / attempts if attempts else None,
    )
