-- The reliability protocol's tables, present in every service database.
-- inbox: one row per (consumer, event) already processed; a conflict means "done before".
CREATE TABLE inbox (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    event_type   text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- outbox: events committed with the domain change, published by the relay.
CREATE TABLE outbox (
    id           bigserial   PRIMARY KEY,
    event_id     uuid        NOT NULL UNIQUE,
    event_type   text        NOT NULL,
    topic        text        NOT NULL,
    message_key  text        NOT NULL,
    payload      bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_unpublished_key ON outbox (message_key, id) WHERE published_at IS NULL;

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kipina_outbox', '');
    RETURN NULL;
END $$;

CREATE TRIGGER outbox_inserted AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- dead_letters: what this service's consumer gave up on, kept for the dashboard and replay.
CREATE TABLE dead_letters (
    id               bigserial   PRIMARY KEY,
    consumer         text        NOT NULL,
    source_topic     text        NOT NULL,
    source_partition integer     NOT NULL,
    source_offset    bigint      NOT NULL,
    message_key      bytea,
    payload          bytea       NOT NULL,
    headers          jsonb       NOT NULL DEFAULT '[]',
    event_id         text,
    event_type       text,
    error            text        NOT NULL,
    attempts         integer     NOT NULL,
    failed_at        timestamptz NOT NULL DEFAULT now(),
    replayed_at      timestamptz,
    UNIQUE (consumer, source_topic, source_partition, source_offset)
);
