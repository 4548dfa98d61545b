"""While nothing records spans, ``tracing.span`` makes its unrecorded span itself (no SDK sampler on the hot
path): it must still continue the event's trace, or the current span's, so log lines and emitted events carry the
right ids."""

from __future__ import annotations

from shared import tracing

EVENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{EVENT_TRACE}-00f067aa0ba902b7-01"


def test_an_events_trace_is_continued_with_a_new_span_and_its_flags() -> None:
    assert not tracing.recording()
    with tracing.span("kipina.test process", traceparent=TRACEPARENT, tracestate="k=v") as current:
        ids = tracing.log_ids()
        emitted, state = tracing.current_trace_context()
    context = current.get_span_context()
    assert not current.is_recording()
    assert ids["trace_id"] == EVENT_TRACE
    assert ids["span_id"] != "00f067aa0ba902b7" and ids["span_id"] == format(context.span_id, "016x")
    # What an event emitted under it carries: the trace, this span, the caller's sampled flag and state.
    assert emitted == f"00-{EVENT_TRACE}-{ids['span_id']}-01"
    assert state == "k=v"
    assert tracing.log_ids() == {}  # left again


def test_without_a_traceparent_it_is_a_child_of_the_current_span_or_a_new_trace() -> None:
    with tracing.span("outer") as outer, tracing.span("inner") as inner:
        assert inner.get_span_context().trace_id == outer.get_span_context().trace_id
        assert inner.get_span_context().span_id != outer.get_span_context().span_id
    with tracing.span("another") as another:
        assert another.get_span_context().is_valid
        assert another.get_span_context().trace_id != outer.get_span_context().trace_id


def test_a_malformed_traceparent_starts_a_new_trace() -> None:
    with tracing.span("x", traceparent="not a traceparent") as current:
        assert current.get_span_context().is_valid
        assert format(current.get_span_context().trace_id, "032x") != EVENT_TRACE
