-- The embargo: a decided evaluation becomes 'published' when its call's results are released, and a
-- published decision no longer changes (docs/design.md, "The embargo").
ALTER TABLE evaluations DROP CONSTRAINT evaluations_status_check;
UPDATE evaluations SET status = 'published' WHERE status = 'decided' AND published_at IS NOT NULL;
ALTER TABLE evaluations ADD CONSTRAINT evaluations_status_check
    CHECK (status IN ('open', 'decided', 'published', 'withdrawn'));
