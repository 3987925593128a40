-- Foundation: number series, partners, accounts, contacts, financial codes,
-- the append-only audit log and idempotency keys.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Counters for human document numbers. Taken with UPDATE ... RETURNING inside the
-- transaction that uses the number, so a rolled-back transaction leaves no gap.
CREATE TABLE number_series (
    series     text PRIMARY KEY,
    next_value bigint NOT NULL CHECK (next_value > 0)
);
INSERT INTO number_series (series, next_value) VALUES ('account', 1);

CREATE TABLE partners (
    id            uuid PRIMARY KEY,
    code          text NOT NULL UNIQUE,
    name          text NOT NULL,
    status        text NOT NULL CHECK (status IN ('active', 'inactive')),
    contact_email text,
    contact_phone text,
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE accounts (
    id                   uuid PRIMARY KEY,
    number               text NOT NULL UNIQUE,
    legal_name           text NOT NULL,
    currency             text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    payment_terms_days   integer NOT NULL CHECK (payment_terms_days BETWEEN 0 AND 365),
    tax_exempt           boolean NOT NULL DEFAULT false,
    tax_exemption_number text,
    tax_rate             numeric CHECK (tax_rate >= 0 AND tax_rate <= 100),
    credit_limit         numeric CHECK (credit_limit >= 0),
    credit_status        text NOT NULL CHECK (credit_status IN ('good', 'watch', 'hold')),
    risk_level           text NOT NULL CHECK (risk_level IN ('low', 'medium', 'high', 'critical')),
    status               text NOT NULL CHECK (status IN ('active', 'suspended', 'terminated', 'closed')),
    collections_status   text NOT NULL CHECK (collections_status IN ('none', 'in_dunning', 'promised', 'with_agency', 'written_off')),
    partner_id           uuid REFERENCES partners (id),
    autopay_enabled      boolean NOT NULL DEFAULT false,
    autopay_method       text CHECK (autopay_method IN ('ach', 'card')),
    billing_address      jsonb NOT NULL,
    presentment          jsonb NOT NULL,
    external_crm_id      text UNIQUE,
    version              integer NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    closed_at            timestamptz
);
CREATE INDEX accounts_partner_idx ON accounts (partner_id, id);
CREATE INDEX accounts_status_idx ON accounts (status, id);
CREATE INDEX accounts_collections_status_idx ON accounts (collections_status, id);
CREATE INDEX accounts_search_idx ON accounts USING gin ((number || ' ' || legal_name) gin_trgm_ops);

CREATE TABLE contacts (
    id         uuid PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id),
    name       text NOT NULL,
    email      text,
    phone      text,
    role       text NOT NULL CHECK (role IN ('billing', 'accounts_payable', 'collections', 'primary', 'technical', 'other')),
    version    integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (email IS NOT NULL OR phone IS NOT NULL)
);
CREATE INDEX contacts_account_idx ON contacts (account_id, id);

CREATE TABLE financial_codes (
    id          uuid PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('revenue', 'tax', 'credit', 'write_off', 'fee', 'refund')),
    description text,
    active      boolean NOT NULL DEFAULT true,
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX financial_codes_kind_idx ON financial_codes (kind, id);

-- Financial codes are referenced by documents for ever: they are deactivated, never deleted.
CREATE FUNCTION financial_codes_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'financial codes are never deleted; deactivate the code instead'
        USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER financial_codes_no_delete BEFORE DELETE ON financial_codes
    FOR EACH ROW EXECUTE FUNCTION financial_codes_refuse_delete();

CREATE TABLE audit_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor       text NOT NULL,
    actor_role  text NOT NULL,
    action      text NOT NULL,
    entity_type text NOT NULL,
    entity_id   uuid NOT NULL,
    account_id  uuid,
    before      jsonb,
    after       jsonb,
    request_id  text
);
CREATE INDEX audit_events_entity_idx ON audit_events (entity_type, entity_id, id);
CREATE INDEX audit_events_account_idx ON audit_events (account_id, id) WHERE account_id IS NOT NULL;

-- The audit log is append-only: no row is ever changed or removed.
CREATE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();

-- Idempotency keys: one row per caller and key, written in the same transaction as the
-- effect it guards, so a concurrent duplicate waits on the row and then replays it.
CREATE TABLE idempotency_keys (
    principal       text NOT NULL,
    key             text NOT NULL,
    fingerprint     text NOT NULL,
    response_status smallint,
    response_body   jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
