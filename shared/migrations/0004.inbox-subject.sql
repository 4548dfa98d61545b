-- The operator dashboard lists the latest events a service handled with their case and correlation, so the inbox
-- keeps both from the envelope (NULL for rows claimed before this migration).
ALTER TABLE inbox ADD COLUMN subject text, ADD COLUMN correlation_id text;
CREATE INDEX inbox_processed_at ON inbox (processed_at DESC);
