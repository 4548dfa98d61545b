"""Traces across services: OpenTelemetry, with the W3C trace context carried inside every event.

A case's journey is one trace. An HTTP request starts it (FastAPI instrumentation); its database
work is traced (asyncpg instrumentation); ``UnitOfWork.emit`` writes the current context into the
event's ``traceparent``/``tracestate`` (the CloudEvents distributed-tracing extension); the relay's
publish span and the consumer's span continue from it, so the handler, its database work, the
follow-up events and, in notify, the email delivery all share the trace id.

Export is off by default: spans are then not sampled (cheap), yet every span still has real trace
and span ids, which travel in the events and stand on every log line next to the correlation id.
With ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) set, spans are sampled and
exported over OTLP/HTTP. Tests install their own provider (an in-memory exporter) first.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()
_OTLP_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_instrumented_asyncpg = False

TRACER_NAME = "kipina"


def export_configured() -> bool:
    return any(os.environ.get(name) for name in _OTLP_VARIABLES)


def configure_tracing(service: str) -> None:
    """Install the SDK's tracer provider (once per process) and trace asyncpg.

    A provider someone installed before (a test's, with an in-memory exporter) is kept.
    """
    global _instrumented_asyncpg
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        exporting = export_configured()
        provider = TracerProvider(
            resource=Resource.create({"service.name": f"kipina-{service}", "service.namespace": "kipina"}),
            sampler=ParentBased(ALWAYS_ON if exporting else ALWAYS_OFF),
        )
        if exporting:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
    if not _instrumented_asyncpg:
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

        AsyncPGInstrumentor().instrument()
        _instrumented_asyncpg = True


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def current_trace_context() -> tuple[str | None, str | None]:
    """The current span's ``traceparent`` and ``tracestate`` (Nones outside any span)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent"), carrier.get("tracestate") or None


def _context_of(traceparent: str | None, tracestate: str | None) -> otel_context.Context | None:
    if not traceparent:
        return None
    carrier = {"traceparent": traceparent}
    if tracestate:
        carrier["tracestate"] = tracestate
    return _PROPAGATOR.extract(carrier)


@contextmanager
def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    traceparent: str | None = None,
    tracestate: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> Iterator[Span]:
    """A span; with ``traceparent`` (from an event or a stored delivery) it continues that trace."""
    parent = _context_of(traceparent, tracestate)
    with tracer().start_as_current_span(name, context=parent, kind=kind, attributes=attributes) as current:
        yield current


def start_span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    traceparent: str | None = None,
    tracestate: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> Span:
    """A span that is not made current (the caller ends it), e.g. one per event of a published batch."""
    return tracer().start_span(name, context=_context_of(traceparent, tracestate), kind=kind, attributes=attributes)


def log_ids() -> dict[str, str]:
    """``trace_id``/``span_id`` of the current span, for log lines (empty outside any span)."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return {}
    return {"trace_id": format(ctx.trace_id, "032x"), "span_id": format(ctx.span_id, "016x")}
