-- Integrations: events posted by CRM systems, and the outbox of events the service sends to
-- the webhook endpoints that subscribe to them.

-- Contracts carry the CRM's id, as accounts do (`external_crm_id`), so that CRM events can
-- name them.
ALTER TABLE contracts ADD COLUMN external_crm_id text UNIQUE;

-- Every authenticated CRM event, once per source and event id: its raw body as signed, the
-- secret that verified it, and what processing it did. A repeated event id answers `response`.
CREATE TABLE crm_events (
    source           text        NOT NULL,
    id               text        NOT NULL,
    type             text        NOT NULL,
    occurred_at      timestamptz,
    -- The record the event is about (`account:<crm id>`, `contract:<crm id>`): an event older
    -- than one already processed for the same subject is ignored.
    subject          text,
    raw_body         bytea       NOT NULL,
    -- Which of the source's configured secrets verified the signature (0 = the first listed),
    -- and the signature's timestamp.
    signature_secret integer     NOT NULL,
    signed_at        timestamptz NOT NULL,
    status           text        NOT NULL CHECK (status IN ('processed', 'failed', 'ignored')),
    failure_code     text,
    failure_reason   text,
    -- What the event made or changed (`{"account_id": ...}`, `{"contract_id": ...}`).
    result           jsonb,
    attempts         integer     NOT NULL DEFAULT 1,
    received_at      timestamptz NOT NULL,
    processed_at     timestamptz NOT NULL,
    PRIMARY KEY (source, id),
    CHECK ((status = 'failed') = (failure_reason IS NOT NULL))
);
CREATE INDEX crm_events_status_idx ON crm_events (status, received_at);
-- The latest processed event of a record. Not a partial index: the query names the status
-- as a parameter, which a partial index on a constant cannot serve.
CREATE INDEX crm_events_subject_idx ON crm_events (source, subject, status, occurred_at);

-- The outbox: one row per event, written in the transaction of the change that causes it.
-- `seq` orders the events of one resource (changes of a resource are serialised by its lock).
CREATE TABLE outbox_events (
    id            uuid        PRIMARY KEY,
    seq           bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    type          text        NOT NULL,
    resource_type text        NOT NULL,
    resource_id   uuid        NOT NULL,
    account_id    uuid,
    occurred_at   timestamptz NOT NULL,
    -- The resource as the API returns it.
    data          jsonb       NOT NULL
);
REVOKE UPDATE, DELETE ON outbox_events FROM receivables_service;

CREATE TABLE webhook_endpoints (
    id                         uuid        PRIMARY KEY,
    url                        text        NOT NULL,
    -- Empty: every event type.
    event_types                text[]      NOT NULL DEFAULT '{}',
    description                text,
    enabled                    boolean     NOT NULL DEFAULT true,
    secret                     text        NOT NULL,
    -- After a rotation deliveries are signed with both secrets until this instant.
    previous_secret            text,
    previous_secret_expires_at timestamptz,
    -- The first failed attempt since the last delivered one; an endpoint failing for the
    -- whole retry window is disabled.
    failing_since              timestamptz,
    disabled_reason            text,
    version                    integer     NOT NULL DEFAULT 1,
    created_at                 timestamptz NOT NULL,
    updated_at                 timestamptz NOT NULL
);

-- One event to one endpoint: fanned out when the event is written, to the endpoints
-- subscribed at that moment (a disabled endpoint's deliveries wait until it is enabled).
CREATE TABLE webhook_deliveries (
    id              uuid        PRIMARY KEY,
    event_id        uuid        NOT NULL REFERENCES outbox_events (id),
    endpoint_id     uuid        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    seq             bigint      NOT NULL,
    resource_id     uuid        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    -- A worker holds a delivery until this instant while it sends it.
    lease_until     timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL,
    delivered_at    timestamptz,
    failed_at       timestamptz,
    UNIQUE (event_id, endpoint_id)
);
-- Workers take due deliveries in this order, so a claim reads only the first few.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at, seq)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_order_idx ON webhook_deliveries (endpoint_id, resource_id, seq)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, seq DESC);

-- Every attempt to send a delivery.
CREATE TABLE webhook_attempts (
    id            uuid        PRIMARY KEY,
    delivery_id   uuid        NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at  timestamptz NOT NULL,
    status_code   integer,
    latency_ms    integer     NOT NULL,
    error         text,
    -- The first 1 KiB of the receiver's answer.
    response_body text
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, attempted_at);

-- An endpoint the service disabled opens a task about it.
ALTER TABLE tasks DROP CONSTRAINT tasks_subject_type_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_subject_type_check CHECK (subject_type IN
    ('account', 'contract', 'invoice', 'equipment', 'meter', 'webhook_endpoint'));
