-- Awards: per-call criteria and jury, evaluations of nominated cases, juror assignments and scorecards.

-- The criteria of one call; a call without a row uses the Quality Innovation Award's defaults.
CREATE TABLE call_criteria (
    call_id    uuid        PRIMARY KEY,
    criteria   jsonb       NOT NULL,
    updated_by text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The jury panel of one call: jurors (with organisation and declared conflicts) and k jurors per case.
CREATE TABLE juries (
    call_id         uuid        PRIMARY KEY,
    jurors          jsonb       NOT NULL,
    jurors_per_case integer     NOT NULL CHECK (jurors_per_case >= 1),
    updated_by      text        NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One evaluation per nominated case, with the case snapshot from the nomination event.
CREATE TABLE evaluations (
    case_id           uuid             PRIMARY KEY,
    call_id           uuid             NOT NULL,
    call_title        text             NOT NULL,
    title             text             NOT NULL,
    summary           text             NOT NULL,
    category          text             NOT NULL,
    language          text             NOT NULL,
    organisation_id   text             NOT NULL,
    organisation_name text             NOT NULL,
    criteria          jsonb            NOT NULL,
    status            text             NOT NULL CHECK (status IN ('open', 'decided', 'withdrawn')),
    outcome           text,
    feedback          text,
    weighted_score    double precision,
    rank_in_category  integer,
    opened_at         timestamptz      NOT NULL DEFAULT now(),
    decided_at        timestamptz,
    decided_by        text,
    published_at      timestamptz,
    withdrawn_at      timestamptz
);
CREATE INDEX evaluations_by_call ON evaluations (call_id, status, opened_at);

-- Jurors currently assigned to an evaluation.
CREATE TABLE assignments (
    case_id     uuid        NOT NULL REFERENCES evaluations (case_id) ON DELETE CASCADE,
    juror_id    text        NOT NULL,
    assigned_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, juror_id)
);
CREATE INDEX assignments_by_juror ON assignments (juror_id, assigned_at);

-- A juror's scores for one case; unassigning the juror drops them (they no longer count).
CREATE TABLE scorecards (
    case_id         uuid        NOT NULL,
    juror_id        text        NOT NULL,
    scores          jsonb       NOT NULL,
    overall_comment text        NOT NULL DEFAULT '',
    submitted_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, juror_id),
    FOREIGN KEY (case_id, juror_id) REFERENCES assignments (case_id, juror_id) ON DELETE CASCADE
);

-- Conflicts a juror declared on one case: never assign them to it again.
CREATE TABLE recusals (
    case_id     uuid        NOT NULL REFERENCES evaluations (case_id) ON DELETE CASCADE,
    juror_id    text        NOT NULL,
    reason      text        NOT NULL,
    declared_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, juror_id)
);

-- Withdrawals seen before the nomination (different topics, no ordering between them).
CREATE TABLE withdrawn_cases (
    case_id      uuid        PRIMARY KEY,
    call_id      uuid        NOT NULL,
    withdrawn_at timestamptz NOT NULL DEFAULT now()
);
