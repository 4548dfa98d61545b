-- The calls review knows: learned from intake's CallAnnouncedV1, at the highest revision seen. A reviewer's
-- task shows its case's call from here.
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
    learned_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
