-- Notify's own tables. The reliability tables (inbox, outbox, dead_letters) come from shared/migrations.

-- Who is attached to a case, refreshed from every CaseSubmittedV1/CaseRevisedV1 snapshot:
-- review and awards events carry only the case id.
CREATE TABLE stakeholders (
    case_id      uuid        PRIMARY KEY,
    call_id      uuid        NOT NULL,
    call_title   text        NOT NULL,
    case_title   text        NOT NULL,
    revision     integer     NOT NULL,
    submitter_id text        NOT NULL,
    submitter    jsonb       NOT NULL,
    team         jsonb       NOT NULL DEFAULT '[]',
    partners     jsonb       NOT NULL DEFAULT '[]',
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_subscriptions (
    id          uuid        PRIMARY KEY,
    url         text        NOT NULL,
    secret      text        NOT NULL,   -- needed in clear to sign bodies (HMAC-SHA256)
    event_types text[]      NOT NULL DEFAULT '{}',  -- empty: every event
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz             -- soft delete: old deliveries keep their reference
);
CREATE INDEX webhook_subscriptions_active ON webhook_subscriptions (created_at) WHERE deleted_at IS NULL;

-- One row per (source event, channel, recipient): the unique key makes redelivered events harmless.
CREATE TABLE deliveries (
    id                uuid        PRIMARY KEY,
    case_id           uuid        NOT NULL,
    source_event_id   uuid        NOT NULL,
    source_event_type text        NOT NULL,
    correlation_id    text        NOT NULL,
    channel           text        NOT NULL CHECK (channel IN ('email', 'webhook')),
    recipient         text        NOT NULL,  -- email address, or the webhook subscription id
    recipient_name    text        NOT NULL DEFAULT '',
    webhook_id        uuid        REFERENCES webhook_subscriptions (id),
    language          text        NOT NULL,
    template          text        NOT NULL,
    subject           text        NOT NULL,
    body              text        NOT NULL,
    status            text        NOT NULL DEFAULT 'pending'
                                  CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
    attempts          integer     NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    lease_until       timestamptz,
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    delivered_at      timestamptz,
    UNIQUE (source_event_id, channel, recipient)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX deliveries_case ON deliveries (case_id, created_at);
CREATE INDEX deliveries_listing ON deliveries (created_at DESC);

-- The in-app feed of a user (the submitter, whose user id we know).
CREATE TABLE feed_items (
    id              uuid        PRIMARY KEY,
    user_id         text        NOT NULL,
    case_id         uuid        NOT NULL,
    source_event_id uuid        NOT NULL,
    template        text        NOT NULL,
    language        text        NOT NULL,
    title           text        NOT NULL,
    body            text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    read_at         timestamptz,
    UNIQUE (source_event_id, user_id)
);
CREATE INDEX feed_items_user ON feed_items (user_id, created_at DESC);
