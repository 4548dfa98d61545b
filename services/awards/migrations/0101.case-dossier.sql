-- What jurors read of a case beyond the nomination's header, kept from intake's and review's events for every
-- case (a case's content arrives long before its nomination). Only assigned jurors and operators read it.

-- The latest revision's content (domain.CaseContent): no contact data, jurors need none.
CREATE TABLE case_content (
    case_id    uuid        PRIMARY KEY,
    call_id    uuid        NOT NULL,
    revision   integer     NOT NULL,
    content    jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Each revision's note and the feedback points it says it addresses.
CREATE TABLE case_revision_notes (
    case_id          uuid        NOT NULL,
    revision         integer     NOT NULL,
    change_note      text        NOT NULL DEFAULT '',
    addressed_points uuid[]      NOT NULL DEFAULT '{}',
    received_at      timestamptz NOT NULL,
    PRIMARY KEY (case_id, revision)
);

-- The case's review iterations: opened (stage, revision) and settled (outcome, reasons, typed feedback).
CREATE TABLE review_rounds (
    case_id    uuid        NOT NULL,
    iteration  integer     NOT NULL,
    stage      text,
    revision   integer,
    opened_at  timestamptz,
    outcome    text,
    comment    text        NOT NULL DEFAULT '',
    feedback   jsonb       NOT NULL DEFAULT '[]',
    settled_at timestamptz,
    PRIMARY KEY (case_id, iteration)
);
