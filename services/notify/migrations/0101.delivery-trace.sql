-- The W3C trace context current when a delivery was recorded (inside the consumer's span), so the
-- worker's send span, and the outcome event it emits, continue the case's trace.
ALTER TABLE deliveries ADD COLUMN traceparent text, ADD COLUMN tracestate text;
