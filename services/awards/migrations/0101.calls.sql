-- The calls awards knows: learned from intake's CallAnnouncedV1, at the highest revision seen.
-- criteria: the call's own criteria as in force here (an announcement after the call's first score does not
-- change them); an operator's override in call_criteria wins over them.
CREATE TABLE calls (
    call_id                 uuid        PRIMARY KEY,
    revision                integer     NOT NULL CHECK (revision >= 1),
    title                   text        NOT NULL,
    description             text        NOT NULL DEFAULT '',
    opens_at                timestamptz NOT NULL,
    closes_at               timestamptz NOT NULL,
    categories              text[]      NOT NULL,
    languages               text[]      NOT NULL,
    reviewers_per_iteration integer     NOT NULL,
    criteria                jsonb       NOT NULL,
    learned_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
-- call_criteria (0100) is from now on an operator's override of the call's criteria, no longer the only source
-- besides the Quality Innovation Award's defaults.
