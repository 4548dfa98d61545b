"""Traces across services: OpenTelemetry, with the W3C trace context carried inside every event.

A case's journey is one trace. An HTTP request starts it (FastAPI instrumentation); its database
work is traced (asyncpg instrumentation); ``UnitOfWork.emit`` writes the current context into the
event's ``traceparent``/``tracestate`` (the CloudEvents distributed-tracing extension); the relay's
publish span and the consumer's span continue from it, so the handler, its database work, the
follow-up events and, in notify, the email delivery all share the trace id.

Export is off by default: spans are then not sampled (cheap), yet every span still has real trace
and span ids, which travel in the events and stand on every log line next to the correlation id.
With ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) set, spans are sampled and
exported over OTLP/HTTP; a test records them with ``record_spans(an in-memory exporter's processor)``.

While nothing records spans, the instrumentation that would only make unsampled spans is not run:
asyncpg is instrumented only while spans are recorded (a span per statement, about 15 a submission,
was most of the tracing cost), and a request gets its ids from ``request_trace`` (the caller's
``traceparent`` continued, or a new trace) instead of the ASGI instrumentation (shared/http.py).

Background polling (the outbox relay's and the delivery worker's claims, housekeeping) runs
``quietly()``: its queries would otherwise start a new trace every fraction of a second.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler, SamplingResult
from opentelemetry.trace import INVALID_SPAN_CONTEXT, NonRecordingSpan, Span, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()
_OTLP_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

TRACER_NAME = "kipina"


class _SampledWhileRecorded(Sampler):
    """Parent-based; a new trace is sampled only while some processor records spans (export or a test)."""

    def __init__(self) -> None:
        self.recording = False
        self._on = ParentBased(ALWAYS_ON)
        self._off = ParentBased(ALWAYS_OFF)

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        return (self._on if self.recording else self._off).should_sample(*args, **kwargs)

    def get_description(self) -> str:
        return "ParentBased, sampled while spans are recorded"


_SAMPLER = _SampledWhileRecorded()
_PROVIDER: TracerProvider | None = None


def export_configured() -> bool:
    return any(os.environ.get(name) for name in _OTLP_VARIABLES)


def configure_tracing(service: str) -> None:
    """Install the tracer provider (once per process; the first service names it); with export configured,
    record spans (and trace asyncpg) from the start."""
    global _PROVIDER
    if _PROVIDER is None:
        _PROVIDER = TracerProvider(
            resource=Resource.create({"service.name": f"kipina-{service}", "service.namespace": "kipina"}),
            sampler=_SAMPLER,
        )
        trace.set_tracer_provider(_PROVIDER)
        if export_configured():
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            record_spans(BatchSpanProcessor(OTLPSpanExporter()))


def recording() -> bool:
    """Whether new traces are sampled: spans are exported, or a test records them."""
    return _SAMPLER.recording


def _trace_asyncpg(on: bool) -> None:
    """Instrument asyncpg (a span per statement) while spans are recorded, and only then: unsampled, those
    spans would cost a wrapper, ids and a context switch per statement for nothing. It patches the
    connection class, so pools opened before are traced too."""
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    instrumentor = AsyncPGInstrumentor()
    if on and not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()
    elif not on and instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


def record_spans(processor: SpanProcessor) -> None:
    """Send spans to ``processor`` from now on, and sample new traces so that there are spans to send."""
    if _PROVIDER is None:
        raise RuntimeError("configure_tracing() first")
    _PROVIDER.add_span_processor(processor)
    _SAMPLER.recording = True
    _trace_asyncpg(True)


def stop_recording() -> None:
    """New traces are no longer sampled (a test's processor stays attached but receives nothing new)."""
    _SAMPLER.recording = export_configured()
    _trace_asyncpg(_SAMPLER.recording)


@contextmanager
def quietly() -> Iterator[None]:
    """No spans for the instrumented work inside (background polling)."""
    with suppress_instrumentation():
        yield


_TRACER: trace.Tracer | None = None


def tracer() -> trace.Tracer:
    """Kipinä's tracer, made once: ``trace.get_tracer`` builds a new one on every call (with a warnings filter)."""
    global _TRACER
    if _PROVIDER is None:
        return trace.get_tracer(TRACER_NAME)
    if _TRACER is None:
        _TRACER = _PROVIDER.get_tracer(TRACER_NAME)
    return _TRACER


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
    """A span; with ``traceparent`` (from an event or a stored delivery) it continues that trace.

    While nothing records spans it is an unrecorded one made here, as the SDK would make it (the parent's trace,
    a new span id) without its sampler, attributes and bookkeeping: its only use is the ids in log lines and
    in the events emitted under it."""
    parent = _context_of(traceparent, tracestate)
    if not _SAMPLER.recording:
        under = trace.get_current_span(parent).get_span_context()
        token = otel_context.attach(trace.set_span_in_context(_unrecorded(under)))
        try:
            yield trace.get_current_span()
        finally:
            otel_context.detach(token)
        return
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


def _id_generator() -> IdGenerator:
    return _PROVIDER.id_generator if _PROVIDER is not None else _RANDOM_IDS


_RANDOM_IDS = RandomIdGenerator()


@contextmanager
def request_trace(headers: Iterable[tuple[bytes, bytes]]) -> Iterator[None]:
    """The trace a request runs in while no span is recorded: a span that is not recorded, with the ids the
    ASGI instrumentation would have given it, so log lines carry them and ``UnitOfWork.emit`` writes them into
    the events. A ``traceparent`` header (W3C) is continued: its trace id and flags, a new span id."""
    traceparent = tracestate = None
    for name, value in headers:
        if name == b"traceparent":
            traceparent = value.decode("latin-1")
        elif name == b"tracestate":
            tracestate = value.decode("latin-1")
    extracted = _context_of(traceparent, tracestate)
    parent = trace.get_current_span(extracted).get_span_context() if extracted is not None else INVALID_SPAN_CONTEXT
    token = otel_context.attach(trace.set_span_in_context(_unrecorded(parent)))
    try:
        yield
    finally:
        otel_context.detach(token)


def _unrecorded(parent: SpanContext) -> NonRecordingSpan:
    """An unrecorded span under ``parent`` (its trace, flags and state; a new trace if it is not valid)."""
    ids = _id_generator()
    if parent.is_valid:
        trace_id, flags, state = parent.trace_id, parent.trace_flags, parent.trace_state
    else:
        trace_id, flags, state = ids.generate_trace_id(), TraceFlags(TraceFlags.DEFAULT), None
    return NonRecordingSpan(
        SpanContext(trace_id, ids.generate_span_id(), is_remote=False, trace_flags=flags, trace_state=state)
    )


def log_ids() -> dict[str, str]:
    """``trace_id``/``span_id`` of the current span, for log lines (empty outside any span)."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return {}
    return {"trace_id": format(ctx.trace_id, "032x"), "span_id": format(ctx.span_id, "016x")}
