-- Messages about a call (its evaluation is complete) or the running system (dead letters) are about no case.
ALTER TABLE deliveries ALTER COLUMN case_id DROP NOT NULL;

-- Operators hear of one service's dead letters once per window (KIPINA_NOTIFY_DEAD_LETTER_ALERT_WINDOW_MINUTES):
-- the first dead letter of a window claims it.
CREATE TABLE operator_alerts (
    service      text        NOT NULL,
    window_start timestamptz NOT NULL,
    told_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service, window_start)
);
