-- A case's organisation is its submitter's, from their token (never the request body, never a revision).
-- Near-identical titles are compared within one organisation's cases of a call only, so one organisation's
-- title is neither refused to nor revealed to another.

ALTER TABLE cases ADD COLUMN organisation_id text;
UPDATE cases SET organisation_id = content -> 'organisation' ->> 'id';
ALTER TABLE cases ALTER COLUMN organisation_id SET NOT NULL;

-- A withdrawn case frees its title for a new submission.
CREATE UNIQUE INDEX cases_call_organisation_title ON cases (call_id, organisation_id, title_key)
    WHERE status <> 'withdrawn';
DROP INDEX cases_call_title;
