-- An operator may discard a dead letter (with a reason) instead of replaying it; it then leaves the waiting list.
ALTER TABLE dead_letters ADD COLUMN discarded_at timestamptz, ADD COLUMN discarded_by text, ADD COLUMN discard_reason text;

-- Every operator action on a dead letter (replay, discard): who, when, and what came of it. An audit log, so it
-- does not reference dead_letters (housekeeping deletes old replayed ones; their history stays).
CREATE TABLE dead_letter_actions (
    id             bigserial   PRIMARY KEY,
    dead_letter_id bigint      NOT NULL,
    action         text        NOT NULL CHECK (action IN ('replay', 'discard')),
    actor          text        NOT NULL,
    succeeded      boolean     NOT NULL,
    outcome        text        NOT NULL,
    reason         text,
    acted_at       timestamptz NOT NULL DEFAULT now()
);
