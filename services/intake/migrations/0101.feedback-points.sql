-- feedback_points: the points review asked the submitter to address (ChangesRequestedV1's feedback items with a
-- point_id), and the revision that addressed each. A revision may name only open points of its case.
CREATE TABLE feedback_points (
    point_id              uuid        PRIMARY KEY,
    case_id               uuid        NOT NULL REFERENCES cases (id),
    iteration             integer     NOT NULL,
    position              integer     NOT NULL,
    checklist_item        text        NOT NULL,
    comment               text        NOT NULL DEFAULT '',
    raised_at             timestamptz NOT NULL,
    addressed_in_revision integer
);
CREATE INDEX feedback_points_case ON feedback_points (case_id, iteration, position);
