-- Intake's own tables: calls, cases (with the submitted content as a CaseSnapshot document) and the timeline.

CREATE TABLE calls (
    id                      uuid        PRIMARY KEY,
    title                   text        NOT NULL,
    description             text        NOT NULL DEFAULT '',
    opens_at                timestamptz NOT NULL,
    closes_at               timestamptz NOT NULL,
    categories              text[]      NOT NULL,
    languages               text[]      NOT NULL,
    reviewers_per_iteration integer     NOT NULL DEFAULT 1 CHECK (reviewers_per_iteration BETWEEN 1 AND 2),
    created_by              text        NOT NULL,
    created_at              timestamptz NOT NULL DEFAULT now(),
    CHECK (closes_at > opens_at)
);
CREATE INDEX calls_created ON calls (created_at DESC, id);

CREATE TABLE cases (
    id                  uuid        PRIMARY KEY,
    call_id             uuid        NOT NULL REFERENCES calls (id),
    submitter_id        text        NOT NULL,
    -- case-, whitespace- and punctuation-blind title, for catching near-identical submissions
    title_key           text        NOT NULL,
    -- the CaseSnapshot of the current revision, as sent in CaseSubmittedV1 / CaseRevisedV1
    content             jsonb       NOT NULL,
    revision            integer     NOT NULL DEFAULT 1,
    status              text        NOT NULL,
    stage               text        NOT NULL,
    iteration           integer     NOT NULL DEFAULT 0,
    outcome             text,
    feedback            text,
    idempotency_key     text,
    request_fingerprint text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
-- A withdrawn case frees its title for a new submission.
CREATE UNIQUE INDEX cases_call_title ON cases (call_id, title_key) WHERE status <> 'withdrawn';
CREATE UNIQUE INDEX cases_idempotency ON cases (submitter_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX cases_submitter ON cases (submitter_id, created_at DESC);
CREATE INDEX cases_call_status ON cases (call_id, status);

CREATE TABLE case_timeline (
    id       bigserial   PRIMARY KEY,
    case_id  uuid        NOT NULL REFERENCES cases (id),
    at       timestamptz NOT NULL,
    kind     text        NOT NULL,
    summary  text        NOT NULL,
    iteration integer,
    details  jsonb       NOT NULL DEFAULT '{}',
    event_id uuid        UNIQUE
);
CREATE INDEX case_timeline_case ON case_timeline (case_id, at, id);
