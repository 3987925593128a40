-- Contracts with their charges, amendments and paperwork; equipment and meters with their
-- plans and readings; billing runs and the invoices they create; tasks shared by billing
-- and collections.

INSERT INTO number_series (series, next_value) VALUES ('contract', 1);

CREATE TABLE tasks (
    id           uuid PRIMARY KEY,
    type         text NOT NULL CHECK (type ~ '^[a-z][a-z0-9_]{0,63}$'),
    subject_type text NOT NULL CHECK (subject_type IN ('account', 'contract', 'invoice', 'equipment', 'meter')),
    subject_id   uuid NOT NULL,
    account_id   uuid REFERENCES accounts (id),
    title        text NOT NULL,
    description  text,
    due_date     date NOT NULL,
    priority     text NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    assignee     text,
    status       text NOT NULL CHECK (status IN ('open', 'in_progress', 'done', 'cancelled')),
    created_by   text NOT NULL,
    version      integer NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE INDEX tasks_type_idx ON tasks (type, status, id);
CREATE INDEX tasks_assignee_idx ON tasks (assignee, status, due_date) WHERE assignee IS NOT NULL;
CREATE INDEX tasks_subject_idx ON tasks (subject_id);

CREATE TABLE contracts (
    id                 uuid PRIMARY KEY,
    number             text NOT NULL UNIQUE,
    account_id         uuid NOT NULL REFERENCES accounts (id),
    kind               text NOT NULL CHECK (kind IN ('lease', 'rental', 'service', 'sale')),
    status             text NOT NULL CHECK (status IN ('draft', 'active', 'suspended', 'terminated', 'expired')),
    currency           text NOT NULL,
    start_date         date NOT NULL,
    end_date           date CHECK (end_date >= start_date),
    billing_frequency  text NOT NULL CHECK (billing_frequency IN ('monthly', 'quarterly', 'annual')),
    anchor_day         smallint NOT NULL CHECK (anchor_day BETWEEN 1 AND 31),
    billing_timing     text NOT NULL CHECK (billing_timing IN ('advance', 'arrears')),
    payment_terms_days integer CHECK (payment_terms_days BETWEEN 0 AND 365),
    description        text,
    external_reference text,
    terminated_on      date,
    version            integer NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    activated_at       timestamptz
);
CREATE INDEX contracts_account_idx ON contracts (account_id, id);
CREATE INDEX contracts_status_idx ON contracts (status, id);
CREATE INDEX contracts_end_idx ON contracts (end_date) WHERE end_date IS NOT NULL;

-- Amendments are the contract's history: never changed but to note the invoice that
-- was flagged for review after them.
CREATE TABLE contract_amendments (
    id                uuid PRIMARY KEY,
    contract_id       uuid NOT NULL REFERENCES contracts (id),
    kind              text NOT NULL CHECK (kind IN ('upgrade', 'renewal', 'ownership_change', 'suspension', 'resumption', 'termination')),
    effective_date    date NOT NULL,
    -- For an ownership change: the account that owns the contract from the effective date.
    account_id        uuid REFERENCES accounts (id),
    previous_account_id uuid REFERENCES accounts (id),
    new_end_date      date,
    previous_end_date date,
    details           jsonb NOT NULL DEFAULT '{}',
    note              text,
    -- Upgrades, renewals and ownership changes flag the first invoice after them.
    needs_review      boolean NOT NULL,
    review_invoice_id uuid,
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (kind <> 'ownership_change' OR account_id IS NOT NULL)
);
CREATE INDEX contract_amendments_contract_idx ON contract_amendments (contract_id, effective_date, created_at);
CREATE INDEX contract_amendments_pending_idx ON contract_amendments (contract_id)
    WHERE needs_review AND review_invoice_id IS NULL;

-- Recurring charges, each valid over a date range; upgrades and renewals end old ranges
-- and open new ones, so past periods keep the prices they were billed at.
CREATE TABLE contract_charges (
    id                uuid PRIMARY KEY,
    contract_id       uuid NOT NULL REFERENCES contracts (id),
    description       text NOT NULL,
    amount            numeric NOT NULL CHECK (amount >= 0),
    financial_code_id uuid NOT NULL REFERENCES financial_codes (id),
    taxable           boolean NOT NULL,
    effective_from    date NOT NULL,
    effective_to      date CHECK (effective_to >= effective_from),
    amendment_id      uuid REFERENCES contract_amendments (id),
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contract_charges_contract_idx ON contract_charges (contract_id, effective_from);

CREATE TABLE contract_documents (
    id           uuid PRIMARY KEY,
    contract_id  uuid NOT NULL REFERENCES contracts (id),
    kind         text NOT NULL CHECK (kind IN ('signed_agreement', 'addendum', 'amendment', 'other')),
    filename     text NOT NULL,
    content_type text NOT NULL CHECK (content_type IN ('application/pdf', 'image/png', 'image/jpeg', 'image/tiff')),
    size_bytes   bigint NOT NULL CHECK (size_bytes BETWEEN 1 AND 10485760),
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content      bytea NOT NULL,
    uploaded_by  text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contract_documents_contract_idx ON contract_documents (contract_id, id);

CREATE TABLE equipment (
    id              uuid PRIMARY KEY,
    contract_id     uuid NOT NULL REFERENCES contracts (id),
    serial_number   text NOT NULL UNIQUE,
    make            text NOT NULL,
    model           text NOT NULL,
    install_address jsonb,
    installed_on    date NOT NULL,
    removed_on      date CHECK (removed_on >= installed_on),
    pickup_status   text CHECK (pickup_status IN ('pending', 'completed', 'cancelled')),
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX equipment_contract_idx ON equipment (contract_id, id);

CREATE TABLE meters (
    id                      uuid PRIMARY KEY,
    equipment_id            uuid NOT NULL REFERENCES equipment (id),
    contract_id             uuid NOT NULL REFERENCES contracts (id),
    meter_type              text NOT NULL CHECK (meter_type ~ '^[a-z][a-z0-9_]{0,31}$'),
    financial_code_id       uuid NOT NULL REFERENCES financial_codes (id),
    expected_monthly_volume bigint CHECK (expected_monthly_volume >= 0),
    created_at              timestamptz NOT NULL DEFAULT now(),
    UNIQUE (equipment_id, meter_type)
);
CREATE INDEX meters_contract_idx ON meters (contract_id, id);

-- A meter's plan over time: the plan of a period is the latest one in effect at its start.
CREATE TABLE meter_plans (
    id             uuid PRIMARY KEY,
    meter_id       uuid NOT NULL REFERENCES meters (id),
    effective_from date NOT NULL,
    included_units bigint NOT NULL CHECK (included_units >= 0),
    overage_rate   numeric NOT NULL CHECK (overage_rate >= 0 AND scale(overage_rate) <= 6),
    minimum_charge numeric NOT NULL CHECK (minimum_charge >= 0),
    amendment_id   uuid REFERENCES contract_amendments (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (meter_id, effective_from)
);

CREATE TABLE billing_runs (
    id               uuid PRIMARY KEY,
    as_of            date NOT NULL,
    account_id       uuid REFERENCES accounts (id),
    contract_id      uuid REFERENCES contracts (id),
    mode             text NOT NULL CHECK (mode IN ('draft', 'issue')),
    status           text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    contracts_total  integer,
    contracts_done   integer NOT NULL DEFAULT 0,
    invoices_created integer NOT NULL DEFAULT 0,
    errors_count     integer NOT NULL DEFAULT 0,
    failure          text,
    requested_by     text NOT NULL,
    request_id       text,
    claimed_by       text,
    heartbeat_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz
);
CREATE INDEX billing_runs_queue_idx ON billing_runs (created_at) WHERE status IN ('queued', 'running');

CREATE TABLE billing_run_errors (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      uuid NOT NULL REFERENCES billing_runs (id),
    contract_id uuid NOT NULL REFERENCES contracts (id),
    code        text NOT NULL,
    reason      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX billing_run_errors_run_idx ON billing_run_errors (run_id, id);

CREATE TABLE invoices (
    id                 uuid PRIMARY KEY,
    number             text UNIQUE,
    account_id         uuid NOT NULL REFERENCES accounts (id),
    contract_id        uuid REFERENCES contracts (id),
    billing_run_id     uuid REFERENCES billing_runs (id),
    status             text NOT NULL CHECK (status IN ('draft', 'open', 'paid', 'void', 'uncollectible')),
    currency           text NOT NULL,
    invoice_date       date NOT NULL,
    due_date           date NOT NULL CHECK (due_date >= invoice_date),
    payment_terms_days integer NOT NULL,
    period_start       date,
    period_end         date,
    subtotal           numeric NOT NULL,
    taxable_amount     numeric NOT NULL,
    tax_rate           numeric NOT NULL,
    tax_total          numeric NOT NULL,
    total              numeric NOT NULL,
    review_required    boolean NOT NULL DEFAULT false,
    review_reason      text,
    issued_at          timestamptz,
    version            integer NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (status = 'draft' OR number IS NOT NULL),
    CHECK (total = subtotal + tax_total)
);
CREATE INDEX invoices_account_idx ON invoices (account_id, id);
CREATE INDEX invoices_contract_idx ON invoices (contract_id, id) WHERE contract_id IS NOT NULL;
CREATE INDEX invoices_run_idx ON invoices (billing_run_id, id) WHERE billing_run_id IS NOT NULL;

CREATE TABLE invoice_lines (
    id                 uuid PRIMARY KEY,
    invoice_id         uuid NOT NULL REFERENCES invoices (id),
    line_no            integer NOT NULL,
    kind               text NOT NULL CHECK (kind IN ('recurring', 'usage', 'minimum', 'true_up', 'manual')),
    description        text NOT NULL,
    quantity           numeric NOT NULL,
    unit_price         numeric NOT NULL,
    amount             numeric NOT NULL,
    financial_code_id  uuid NOT NULL REFERENCES financial_codes (id),
    taxable            boolean NOT NULL,
    contract_id        uuid REFERENCES contracts (id),
    charge_id          uuid REFERENCES contract_charges (id),
    meter_id           uuid REFERENCES meters (id),
    period_start       date,
    period_end         date,
    -- Proration: billed days of the full period's days.
    billed_days        integer,
    period_days        integer,
    -- Meter facts, explained on the document.
    meter_type         text,
    start_reading      bigint,
    start_read_on      date,
    start_estimated    boolean,
    end_reading        bigint,
    end_read_on        date,
    end_estimated      boolean,
    estimate_method    text,
    usage              bigint,
    included_units     bigint,
    overage_units      bigint,
    overage_rate       numeric,
    explanation        text,
    UNIQUE (invoice_id, line_no)
);

-- A contract's recurring charges for a period are billed at most once: the primary key is
-- the guarantee when runs overlap, on one node or many.
CREATE TABLE billed_periods (
    contract_id  uuid NOT NULL REFERENCES contracts (id),
    period_start date NOT NULL,
    period_end   date NOT NULL,
    invoice_id   uuid NOT NULL REFERENCES invoices (id),
    PRIMARY KEY (contract_id, period_start)
);

CREATE TABLE meter_readings (
    id              uuid PRIMARY KEY,
    meter_id        uuid NOT NULL REFERENCES meters (id),
    read_on         date NOT NULL,
    value           bigint NOT NULL CHECK (value >= 0),
    source          text NOT NULL CHECK (source IN ('customer', 'portal', 'partner', 'device', 'technician', 'estimated')),
    -- A replacement or rollover restarts the register at starting_value; final_value is the
    -- old register's last value when it was read.
    reset           text CHECK (reset IN ('replacement', 'rollover')),
    starting_value  bigint CHECK (starting_value >= 0),
    final_value     bigint CHECK (final_value >= 0),
    estimate_method text CHECK (estimate_method IN ('average_daily_usage', 'expected_volume')),
    estimate_basis  jsonb,
    billing_run_id  uuid REFERENCES billing_runs (id),
    note            text,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((source = 'estimated') = (estimate_method IS NOT NULL)),
    CHECK ((reset IS NULL) = (starting_value IS NULL)),
    CHECK (reset IS NOT NULL OR final_value IS NULL),
    CHECK (reset IS NULL OR value >= starting_value)
);
CREATE UNIQUE INDEX meter_readings_actual_key ON meter_readings (meter_id, read_on) WHERE source <> 'estimated';
CREATE UNIQUE INDEX meter_readings_estimate_key ON meter_readings (meter_id, read_on) WHERE source = 'estimated';

-- A meter's usage for a period is billed at most once. An over-estimate corrected by a
-- later actual reading is re-rated here and credited on the invoice that found it.
CREATE TABLE meter_periods (
    meter_id            uuid NOT NULL REFERENCES meters (id),
    period_start        date NOT NULL,
    period_end          date NOT NULL,
    contract_id         uuid NOT NULL REFERENCES contracts (id),
    invoice_id          uuid NOT NULL REFERENCES invoices (id),
    start_value         bigint NOT NULL,
    end_value           bigint NOT NULL,
    end_read_on         date NOT NULL,
    end_estimated       boolean NOT NULL,
    end_reading_id      uuid NOT NULL REFERENCES meter_readings (id),
    usage               bigint NOT NULL CHECK (usage >= 0),
    included_units      bigint NOT NULL,
    overage_rate        numeric NOT NULL,
    minimum_charge      numeric NOT NULL,
    charged             numeric NOT NULL,
    rerated_start_value bigint,
    rerated_end_value   bigint,
    rerated_usage       bigint,
    rerated_charged     numeric,
    rerated_invoice_id  uuid REFERENCES invoices (id),
    PRIMARY KEY (meter_id, period_start)
);
CREATE INDEX meter_periods_contract_idx ON meter_periods (contract_id);
