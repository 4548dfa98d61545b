-- case_status_history: every status a case entered and when (the operator dashboard's time in each stage).
-- Written by the repository whenever it changes a case's status: at the event's time for a change that a review
-- or awards event brings, else when intake records it. Rows of one case are in the order they were recorded (id).
CREATE TABLE case_status_history (
    id      bigserial   PRIMARY KEY,
    case_id uuid        NOT NULL REFERENCES cases (id),
    status  text        NOT NULL,
    at      timestamptz NOT NULL
);
CREATE INDEX case_status_history_case ON case_status_history (case_id, id);

-- Cases from before: all that is known is when each was submitted and when it last changed, so each has its
-- submission and, when it has moved on, its present status since its last change.
INSERT INTO case_status_history (case_id, status, at)
SELECT id, 'submitted', created_at FROM cases ORDER BY created_at, id;
INSERT INTO case_status_history (case_id, status, at)
SELECT id, status, updated_at FROM cases WHERE status <> 'submitted' ORDER BY updated_at, id;
