-- Events about a case whose people notify does not know yet. The case's snapshot (case.submitted, on intake's
-- topic) and review's and awards' events about it are read independently, so one of those may come first; its
-- people are told when the snapshot arrives (workflow.refresh_directory_and_notify), and the row goes.
CREATE TABLE awaiting_directory (
    id         bigserial   PRIMARY KEY,  -- the order they came in, which is the order they are told in
    event_id   uuid        NOT NULL UNIQUE,
    case_id    uuid        NOT NULL,
    event      bytea       NOT NULL,     -- the event as it travelled
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX awaiting_directory_case ON awaiting_directory (case_id);
