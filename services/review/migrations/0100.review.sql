-- Review's own tables (shared/migrations/0001.reliability.sql runs first).

-- cases: the snapshot of each case as intake last described it, plus review's own status and stage.
CREATE TABLE cases (
    case_id                 uuid        PRIMARY KEY,
    call_id                 uuid        NOT NULL,
    call_title              text        NOT NULL,
    title                   text        NOT NULL,
    summary                 text        NOT NULL,
    category                text        NOT NULL,
    language                text        NOT NULL,
    organisation_id         text        NOT NULL,
    organisation_name       text        NOT NULL,
    submitter_id            text        NOT NULL,
    stage                   text        NOT NULL,
    revision                integer     NOT NULL,
    reviewers_per_iteration integer     NOT NULL CHECK (reviewers_per_iteration BETWEEN 1 AND 2),
    -- what a reviewer reads besides the columns above (problem, solution, principles...); no contact data
    details                 jsonb       NOT NULL DEFAULT '{}',
    status                  text        NOT NULL,
    current_iteration       integer     NOT NULL DEFAULT 0,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);

-- iterations: one timeboxed review round of a case at one stage.
CREATE TABLE iterations (
    case_id      uuid        NOT NULL REFERENCES cases (case_id),
    iteration    integer     NOT NULL CHECK (iteration >= 1),
    stage        text        NOT NULL,
    revision     integer     NOT NULL,
    status       text        NOT NULL,
    outcome      text,
    opened_at    timestamptz NOT NULL DEFAULT now(),
    due_at       timestamptz NOT NULL,
    escalated_at timestamptz,
    closed_at    timestamptz,
    PRIMARY KEY (case_id, iteration)
);
-- the escalation job's search
CREATE INDEX iterations_overdue ON iterations (due_at) WHERE status = 'open' AND escalated_at IS NULL;

-- review_tasks: one per review slot of an iteration (two for four-eyes); the queue reviewers pull from.
CREATE TABLE review_tasks (
    task_id          uuid        PRIMARY KEY,
    case_id          uuid        NOT NULL,
    iteration        integer     NOT NULL,
    slot             integer     NOT NULL CHECK (slot BETWEEN 1 AND 2),
    status           text        NOT NULL,
    due_at           timestamptz NOT NULL,
    reviewer_id      text,
    reviewer_org     text,
    claimed_at       timestamptz,
    lease_expires_at timestamptz,
    decision         text,
    comment          text,
    feedback         jsonb       NOT NULL DEFAULT '[]',
    decided_at       timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (case_id, iteration) REFERENCES iterations (case_id, iteration),
    UNIQUE (case_id, iteration, slot)
);
-- four-eyes: one reviewer holds at most one slot of an iteration (also under concurrent claims)
CREATE UNIQUE INDEX review_tasks_one_slot_per_reviewer
    ON review_tasks (case_id, iteration, reviewer_id) WHERE reviewer_id IS NOT NULL;
-- the claim query: available tasks, oldest due first
CREATE INDEX review_tasks_available ON review_tasks (due_at, created_at) WHERE status IN ('queued', 'claimed');
CREATE INDEX review_tasks_by_case ON review_tasks (case_id, iteration);
