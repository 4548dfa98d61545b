-- What jurors and operators are told (docs/people.md): each assignment's scoring deadline and whether its juror
-- was reminded of it (ScoringDueV1, once per assignment), the call's own deadline set with its jury, and whether
-- the call's evaluation was complete when last looked at (EvaluationCompleteV1, once per completion).

ALTER TABLE juries ADD COLUMN scoring_due_at timestamptz;

ALTER TABLE assignments ADD COLUMN scoring_due_at timestamptz, ADD COLUMN reminded_at timestamptz;
-- Assignments made before deadlines existed get the default scoring period (KIPINA_AWARDS_SCORING_PERIOD_DAYS).
UPDATE assignments SET scoring_due_at = assigned_at + interval '14 days';
ALTER TABLE assignments ALTER COLUMN scoring_due_at SET NOT NULL;
-- The reminder job's search: unreminded assignments by deadline.
CREATE INDEX assignments_to_remind ON assignments (scoring_due_at) WHERE reminded_at IS NULL;

ALTER TABLE calls ADD COLUMN evaluation_complete boolean NOT NULL DEFAULT false;
