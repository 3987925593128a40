-- Collections: policies and their versioned steps, collector portfolios, notes, promises to
-- pay, dunning runs with the steps they performed and the notices they rendered, service
-- orders and agency placements.

CREATE TABLE dunning_policies (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    -- The default policy of the accounts of this segment.
    segment     text CHECK (segment ~ '^[a-z][a-z0-9_]{0,31}$'),
    -- The default policy of accounts with neither a policy of their own nor a segment one.
    is_default  boolean NOT NULL DEFAULT false,
    version     integer NOT NULL DEFAULT 1,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE UNIQUE INDEX dunning_policies_segment_idx ON dunning_policies (segment) WHERE segment IS NOT NULL;
CREATE UNIQUE INDEX dunning_policies_default_idx ON dunning_policies (is_default) WHERE is_default;

-- Every version of a policy keeps its steps; runs use the newest.
CREATE TABLE dunning_steps (
    policy_id      uuid NOT NULL REFERENCES dunning_policies (id),
    policy_version integer NOT NULL,
    step_no        integer NOT NULL CHECK (step_no >= 1),
    days_past_due  integer NOT NULL CHECK (days_past_due BETWEEN 0 AND 3650),
    action         text NOT NULL CHECK (action IN ('reminder_email', 'late_notice_letter', 'call_task',
                       'suspension_warning', 'suspension_order', 'termination_order',
                       'equipment_pickup_order', 'agency_placement_recommendation',
                       'write_off_recommendation')),
    min_balance    numeric(18, 4) NOT NULL DEFAULT 0 CHECK (min_balance >= 0),
    subject        text NOT NULL,
    body_text      text NOT NULL,
    body_html      text NOT NULL,
    PRIMARY KEY (policy_id, policy_version, step_no)
);

-- Collections settings of an account: its collector, policy, segment and do-not-dun flag.
CREATE TABLE collection_profiles (
    account_id         uuid PRIMARY KEY REFERENCES accounts (id),
    collector          text,
    assignment_rule_id uuid,
    assigned_at        timestamptz,
    segment            text CHECK (segment ~ '^[a-z][a-z0-9_]{0,31}$'),
    dunning_policy_id  uuid REFERENCES dunning_policies (id),
    do_not_dun         boolean NOT NULL DEFAULT false,
    do_not_dun_reason  text,
    version            integer NOT NULL DEFAULT 1,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX collection_profiles_collector_idx ON collection_profiles (collector, account_id);

-- Rules that fill collectors' portfolios, tried in position order; the first match wins.
CREATE TABLE assignment_rules (
    id          uuid PRIMARY KEY,
    position    integer NOT NULL UNIQUE CHECK (position >= 1),
    collector   text NOT NULL CHECK (length(collector) BETWEEN 1 AND 200),
    partner_id  uuid REFERENCES partners (id),
    risk_level  text CHECK (risk_level IN ('low', 'medium', 'high', 'critical')),
    min_balance numeric(18, 4) CHECK (min_balance >= 0),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL
);
ALTER TABLE collection_profiles
    ADD FOREIGN KEY (assignment_rule_id) REFERENCES assignment_rules (id) ON DELETE SET NULL;

CREATE TABLE account_notes (
    id          uuid PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES accounts (id),
    channel     text NOT NULL CHECK (channel IN ('call', 'email', 'letter', 'portal', 'in_person')),
    direction   text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    outcome     text CHECK (outcome IN ('reached', 'left_message', 'no_answer', 'promised', 'refused', 'disputed', 'wrong_number')),
    contact_id  uuid REFERENCES contacts (id),
    text        text NOT NULL CHECK (length(text) BETWEEN 1 AND 10000),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX account_notes_account_idx ON account_notes (account_id, created_at DESC);

CREATE TABLE promises (
    id            uuid PRIMARY KEY,
    account_id    uuid NOT NULL REFERENCES accounts (id),
    status        text NOT NULL CHECK (status IN ('active', 'kept', 'broken', 'cancelled')),
    currency      text NOT NULL,
    total         numeric(18, 4) NOT NULL CHECK (total > 0),
    grace_days    integer NOT NULL CHECK (grace_days BETWEEN 0 AND 60),
    -- Payments received from this day on count towards the promise.
    promised_on   date NOT NULL,
    note          text,
    closed_on     date,
    close_reason  text,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    version       integer NOT NULL DEFAULT 1,
    CHECK ((status = 'active') = (closed_on IS NULL))
);
CREATE UNIQUE INDEX promises_one_active_idx ON promises (account_id) WHERE status = 'active';
CREATE INDEX promises_account_idx ON promises (account_id, created_at DESC);

CREATE TABLE promise_instalments (
    promise_id  uuid NOT NULL REFERENCES promises (id),
    seq         integer NOT NULL CHECK (seq >= 1),
    due_date    date NOT NULL,
    amount      numeric(18, 4) NOT NULL CHECK (amount > 0),
    status      text NOT NULL CHECK (status IN ('pending', 'kept', 'missed')),
    PRIMARY KEY (promise_id, seq)
);

-- The past-due invoices a promise covers: not dunned while it is active.
CREATE TABLE promise_invoices (
    promise_id  uuid NOT NULL REFERENCES promises (id),
    invoice_id  uuid NOT NULL REFERENCES invoices (id),
    PRIMARY KEY (promise_id, invoice_id)
);
CREATE INDEX promise_invoices_invoice_idx ON promise_invoices (invoice_id);

CREATE SEQUENCE service_order_numbers;

CREATE TABLE service_orders (
    id                uuid PRIMARY KEY,
    number            text NOT NULL UNIQUE,
    account_id        uuid NOT NULL REFERENCES accounts (id),
    contract_id       uuid REFERENCES contracts (id),
    kind              text NOT NULL CHECK (kind IN ('suspend', 'terminate', 'restore', 'equipment_pickup')),
    status            text NOT NULL CHECK (status IN ('pending', 'sent', 'completed', 'cancelled')),
    source            text NOT NULL CHECK (source IN ('manual', 'dunning', 'automatic')),
    reason            text NOT NULL,
    -- What is to be picked up: serial, make and model of each piece.
    equipment         jsonb NOT NULL DEFAULT '[]',
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL,
    sent_at           timestamptz,
    completed_on      date,
    completed_at      timestamptz,
    cancelled_at      timestamptz,
    cancel_reason     text,
    version           integer NOT NULL DEFAULT 1,
    updated_at        timestamptz NOT NULL
);
-- One open order of a kind per account (and contract).
CREATE UNIQUE INDEX service_orders_one_open_idx ON service_orders
    (account_id, kind, COALESCE(contract_id, '00000000-0000-0000-0000-000000000000'))
    WHERE status IN ('pending', 'sent');
CREATE INDEX service_orders_account_idx ON service_orders (account_id, created_at DESC);

CREATE TABLE dunning_runs (
    id                uuid PRIMARY KEY,
    as_of             date NOT NULL,
    trigger           text NOT NULL CHECK (trigger IN ('manual', 'schedule')),
    status            text NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    started_by        text NOT NULL,
    started_at        timestamptz NOT NULL,
    finished_at       timestamptz,
    invoices_examined integer NOT NULL DEFAULT 0,
    steps_performed   integer NOT NULL DEFAULT 0,
    notices           integer NOT NULL DEFAULT 0,
    tasks             integer NOT NULL DEFAULT 0,
    service_orders    integer NOT NULL DEFAULT 0,
    promises_kept     integer NOT NULL DEFAULT 0,
    promises_broken   integer NOT NULL DEFAULT 0,
    error             text
);
CREATE INDEX dunning_runs_started_idx ON dunning_runs (started_at DESC);

-- A step performed on an invoice: at most once per invoice, policy and step, whatever the
-- number of runs or instances (the primary key). Earlier steps a run jumps over are kept as
-- `superseded` so that they never fire late.
CREATE TABLE dunning_actions (
    invoice_id       uuid NOT NULL REFERENCES invoices (id),
    policy_id        uuid NOT NULL REFERENCES dunning_policies (id),
    step_no          integer NOT NULL,
    policy_version   integer NOT NULL,
    account_id       uuid NOT NULL REFERENCES accounts (id),
    run_id           uuid NOT NULL REFERENCES dunning_runs (id),
    action           text NOT NULL,
    outcome          text NOT NULL CHECK (outcome IN ('performed', 'superseded')),
    days_past_due    integer NOT NULL,
    amount           numeric(18, 4) NOT NULL,
    task_id          uuid REFERENCES tasks (id),
    service_order_id uuid REFERENCES service_orders (id),
    performed_at     timestamptz NOT NULL,
    PRIMARY KEY (invoice_id, policy_id, step_no)
);
CREATE INDEX dunning_actions_account_idx ON dunning_actions (account_id, performed_at DESC);

CREATE SEQUENCE notice_numbers;

CREATE TABLE notices (
    id              uuid PRIMARY KEY,
    number          text NOT NULL UNIQUE,
    account_id      uuid NOT NULL REFERENCES accounts (id),
    invoice_id      uuid NOT NULL REFERENCES invoices (id),
    policy_id       uuid NOT NULL,
    step_no         integer NOT NULL,
    action          text NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('email', 'letter')),
    recipient       text NOT NULL,
    subject         text NOT NULL,
    body_text       text NOT NULL,
    body_html       text NOT NULL,
    amount          numeric(18, 4) NOT NULL,
    currency        text NOT NULL,
    run_id          uuid NOT NULL REFERENCES dunning_runs (id),
    created_at      timestamptz NOT NULL,
    FOREIGN KEY (invoice_id, policy_id, step_no) REFERENCES dunning_actions (invoice_id, policy_id, step_no),
    UNIQUE (invoice_id, policy_id, step_no)
);
CREATE INDEX notices_account_idx ON notices (account_id, created_at DESC);

CREATE TABLE agency_placements (
    id               uuid PRIMARY KEY,
    account_id       uuid NOT NULL REFERENCES accounts (id),
    agency           text NOT NULL CHECK (length(agency) BETWEEN 1 AND 200),
    placed_on        date NOT NULL,
    currency         text NOT NULL,
    amount_placed    numeric(18, 4) NOT NULL CHECK (amount_placed > 0),
    -- Percent of each recovery the agency keeps.
    commission_rate  numeric(7, 4) NOT NULL CHECK (commission_rate >= 0 AND commission_rate <= 100),
    status           text NOT NULL CHECK (status IN ('active', 'recalled')),
    recovered        numeric(18, 4) NOT NULL DEFAULT 0 CHECK (recovered >= 0),
    commission       numeric(18, 4) NOT NULL DEFAULT 0 CHECK (commission >= 0),
    recalled_on      date,
    recall_reason    text,
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    version          integer NOT NULL DEFAULT 1,
    CHECK ((status = 'recalled') = (recalled_on IS NOT NULL))
);
CREATE UNIQUE INDEX agency_placements_one_active_idx ON agency_placements (account_id) WHERE status = 'active';

CREATE TABLE placement_invoices (
    placement_id  uuid NOT NULL REFERENCES agency_placements (id),
    invoice_id    uuid NOT NULL REFERENCES invoices (id),
    amount        numeric(18, 4) NOT NULL CHECK (amount > 0),
    PRIMARY KEY (placement_id, invoice_id)
);

-- A recovery is a payment (the whole amount the agency collected) and the commission it keeps.
CREATE TABLE placement_recoveries (
    id            uuid PRIMARY KEY,
    placement_id  uuid NOT NULL REFERENCES agency_placements (id),
    payment_id    uuid NOT NULL UNIQUE REFERENCES payments (id),
    amount        numeric(18, 4) NOT NULL CHECK (amount > 0),
    commission    numeric(18, 4) NOT NULL CHECK (commission >= 0 AND commission <= amount),
    received_date date NOT NULL,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE INDEX placement_recoveries_placement_idx ON placement_recoveries (placement_id);

-- Dunning and the worklist read open invoices by due date.
CREATE INDEX invoices_open_due_idx ON invoices (due_date, account_id) WHERE status = 'open';
