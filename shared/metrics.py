"""Prometheus metrics shared by every service (exposed at ``/metrics``)."""

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
