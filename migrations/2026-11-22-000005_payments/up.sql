-- Payments and cash application: receipts, their applications to invoices, refunds, returns,
-- the deductions of short payments, and the small-balance write-offs that settle them.

-- Payment numbers (PMT-000001): unique, not gapless, so that recording payments never queues
-- on a counter row.
CREATE SEQUENCE payment_numbers;

CREATE TABLE payments (
    id               uuid PRIMARY KEY,
    number           text NOT NULL UNIQUE,
    account_id       uuid NOT NULL REFERENCES accounts (id),
    amount           numeric NOT NULL CHECK (amount > 0),
    currency         text NOT NULL,
    method           text NOT NULL CHECK (method IN ('ach', 'check', 'wire', 'card', 'cash', 'lockbox', 'portal')),
    reference        text,
    received_date    date NOT NULL,
    application_mode text NOT NULL CHECK (application_mode IN ('remittance', 'auto', 'none')),
    memo             text,
    amount_applied   numeric NOT NULL DEFAULT 0 CHECK (amount_applied >= 0),
    amount_refunded  numeric NOT NULL DEFAULT 0 CHECK (amount_refunded >= 0),
    status           text NOT NULL CHECK (status IN ('unapplied', 'partially_applied', 'applied', 'refunded', 'returned')),
    returned_on      date,
    return_reason    text CHECK (return_reason IN ('nsf', 'ach_return', 'chargeback')),
    return_code      text,
    return_note      text,
    return_fee_invoice_id uuid REFERENCES invoices (id),
    version          integer NOT NULL DEFAULT 1,
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    -- Invariant 3: what is applied and refunded never exceeds what was received.
    CONSTRAINT payments_not_overused CHECK (amount_applied + amount_refunded <= amount),
    CONSTRAINT payments_return_complete CHECK ((status = 'returned') = (returned_on IS NOT NULL AND return_reason IS NOT NULL)),
    CONSTRAINT payments_returned_hold_nothing CHECK (status <> 'returned' OR (amount_applied = 0 AND amount_refunded = 0))
);
CREATE INDEX payments_account_idx ON payments (account_id, received_date);
CREATE INDEX payments_received_idx ON payments (received_date);
CREATE INDEX payments_status_idx ON payments (status);
CREATE INDEX payments_reference_idx ON payments (lower(reference) text_pattern_ops);

-- Each application of a payment to an invoice. A reversal keeps the row and dates it.
CREATE TABLE payment_applications (
    id              uuid PRIMARY KEY,
    payment_id      uuid NOT NULL REFERENCES payments (id),
    invoice_id      uuid NOT NULL REFERENCES invoices (id),
    amount          numeric NOT NULL CHECK (amount > 0),
    source          text NOT NULL CHECK (source IN ('remittance', 'auto', 'manual')),
    applied_on      date NOT NULL,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL,
    reversed_at     timestamptz,
    reversed_by     text,
    reversal_reason text,
    CHECK ((reversed_at IS NULL) = (reversed_by IS NULL))
);
CREATE INDEX payment_applications_payment_idx ON payment_applications (payment_id);
CREATE INDEX payment_applications_invoice_idx ON payment_applications (invoice_id);

CREATE TABLE payment_refunds (
    id          uuid PRIMARY KEY,
    payment_id  uuid NOT NULL REFERENCES payments (id),
    amount      numeric NOT NULL CHECK (amount > 0),
    method      text NOT NULL CHECK (method IN ('ach', 'check', 'wire', 'card')),
    reference   text,
    refunded_on date NOT NULL,
    reason      text,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX payment_refunds_payment_idx ON payment_refunds (payment_id);

-- What a short payment left unpaid on an invoice, and why the customer says so.
CREATE TABLE deductions (
    id              uuid PRIMARY KEY,
    account_id      uuid NOT NULL REFERENCES accounts (id),
    payment_id      uuid NOT NULL REFERENCES payments (id),
    invoice_id      uuid NOT NULL REFERENCES invoices (id),
    amount          numeric NOT NULL CHECK (amount > 0),
    currency        text NOT NULL,
    reason          text NOT NULL CHECK (reason IN ('pricing', 'tax', 'damaged', 'not_received', 'promotional', 'other')),
    status          text NOT NULL CHECK (status IN ('open', 'written_off', 'disputed', 'paid', 'cancelled')),
    note            text,
    resolved_at     timestamptz,
    resolved_by     text,
    adjustment_id   uuid,
    -- The payment whose application paid the invoice off and so settled it (`paid`).
    settled_by_payment_id uuid REFERENCES payments (id),
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CHECK ((status = 'open') = (resolved_at IS NULL))
);
CREATE INDEX deductions_account_idx ON deductions (account_id, status);
CREATE INDEX deductions_invoice_idx ON deductions (invoice_id);
-- An invoice has at most one open deduction: what it is still short.
CREATE UNIQUE INDEX deductions_one_open_per_invoice ON deductions (invoice_id) WHERE status = 'open';
CREATE INDEX deductions_payment_idx ON deductions (payment_id);

-- Changes to what an invoice owes that are neither payments nor credit memos.
CREATE TABLE adjustments (
    id                uuid PRIMARY KEY,
    account_id        uuid NOT NULL REFERENCES accounts (id),
    invoice_id        uuid REFERENCES invoices (id),
    kind              text NOT NULL CHECK (kind IN ('small_balance_write_off')),
    amount            numeric NOT NULL CHECK (amount > 0),
    currency          text NOT NULL,
    financial_code_id uuid NOT NULL REFERENCES financial_codes (id),
    reason            text NOT NULL,
    deduction_id      uuid REFERENCES deductions (id),
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL
);
CREATE INDEX adjustments_account_idx ON adjustments (account_id);
CREATE INDEX adjustments_invoice_idx ON adjustments (invoice_id) WHERE invoice_id IS NOT NULL;
ALTER TABLE deductions ADD FOREIGN KEY (adjustment_id) REFERENCES adjustments (id);

-- Partial index used by cash application: an account's open invoices, oldest due first.
CREATE INDEX invoices_account_open_idx ON invoices (account_id, due_date, invoice_date, id) WHERE status = 'open';
