-- case_revisions: each revision review received from intake, with the submitter's note and the feedback points
-- (review_tasks.feedback[].point_id) it says it addresses. A point is open until a revision addresses it.
CREATE TABLE case_revisions (
    case_id          uuid        NOT NULL REFERENCES cases (case_id),
    revision         integer     NOT NULL CHECK (revision >= 1),
    change_note      text        NOT NULL DEFAULT '',
    addressed_points uuid[]      NOT NULL DEFAULT '{}',
    received_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, revision)
);
