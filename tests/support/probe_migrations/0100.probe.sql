-- A test-only table: one row per time the probe handler ran (no unique key, so a double run shows).
CREATE TABLE probe_effects (
    id        bigserial   PRIMARY KEY,
    case_id   uuid        NOT NULL,
    event_id  uuid        NOT NULL,
    title     text        NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT now()
);

-- While this table is empty, "poison" titles fail; a row in it lets a replay succeed.
CREATE TABLE probe_antidote (id integer PRIMARY KEY);
