-- The W3C trace context of each outbox row's event, so the relay's publish span joins the case's trace
-- without parsing the payload.
ALTER TABLE outbox ADD COLUMN traceparent text, ADD COLUMN tracestate text;
