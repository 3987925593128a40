-- Disputes, credit memos with approvals, and the adjustments beyond small-balance write-offs:
-- late fees, bad-debt write-offs and recoveries.

CREATE SEQUENCE dispute_numbers;

CREATE TABLE disputes (
    id              uuid PRIMARY KEY,
    number          text NOT NULL UNIQUE,
    account_id      uuid NOT NULL REFERENCES accounts (id),
    invoice_id      uuid NOT NULL REFERENCES invoices (id),
    invoice_line_id uuid REFERENCES invoice_lines (id),
    deduction_id    uuid UNIQUE REFERENCES deductions (id),
    amount          numeric NOT NULL CHECK (amount > 0),
    currency        text NOT NULL,
    reason          text NOT NULL CHECK (reason IN ('pricing', 'meter_reading', 'billed_after_termination',
                        'duplicate', 'tax', 'service_not_rendered', 'equipment_not_installed', 'other')),
    description     text NOT NULL,
    contact_name    text,
    contact_email   text,
    contact_phone   text,
    status          text NOT NULL CHECK (status IN ('open', 'under_review', 'resolved_valid', 'resolved_invalid', 'withdrawn')),
    assignee        text,
    opened_on       date NOT NULL,
    sla_due_date    date NOT NULL,
    root_cause      text CHECK (root_cause IN ('billing_error', 'meter_misread', 'contract_setup', 'pricing_setup',
                        'customer_misunderstanding', 'duplicate_billing', 'other')),
    resolution_note text,
    approved_amount numeric CHECK (approved_amount > 0 AND approved_amount <= amount),
    credit_memo_id  uuid UNIQUE,
    resolved_at     timestamptz,
    resolved_by     text,
    opened_by       text NOT NULL,
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CHECK ((status IN ('open', 'under_review')) = (resolved_at IS NULL)),
    CHECK ((status = 'resolved_valid') = (approved_amount IS NOT NULL)),
    CHECK (status NOT IN ('resolved_valid', 'resolved_invalid') OR root_cause IS NOT NULL)
);
CREATE INDEX disputes_account_idx ON disputes (account_id, status);
CREATE INDEX disputes_invoice_idx ON disputes (invoice_id);
CREATE INDEX disputes_open_sla_idx ON disputes (sla_due_date) WHERE status IN ('open', 'under_review');

CREATE TABLE dispute_notes (
    id         uuid PRIMARY KEY,
    dispute_id uuid NOT NULL REFERENCES disputes (id),
    author     text NOT NULL,
    text       text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX dispute_notes_dispute_idx ON dispute_notes (dispute_id, id);

CREATE TABLE dispute_attachments (
    id           uuid PRIMARY KEY,
    dispute_id   uuid NOT NULL REFERENCES disputes (id),
    filename     text NOT NULL,
    content_type text NOT NULL CHECK (content_type IN ('application/pdf', 'image/png', 'image/jpeg', 'image/tiff')),
    size_bytes   bigint NOT NULL CHECK (size_bytes BETWEEN 1 AND 10485760),
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content      bytea NOT NULL,
    uploaded_by  text NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX dispute_attachments_dispute_idx ON dispute_attachments (dispute_id, id);

CREATE TABLE credit_memos (
    id                uuid PRIMARY KEY,
    number            text UNIQUE,
    account_id        uuid NOT NULL REFERENCES accounts (id),
    status            text NOT NULL CHECK (status IN ('draft', 'pending_approval', 'rejected', 'issued', 'void')),
    reason            text NOT NULL CHECK (reason IN ('billing_error', 'pricing', 'meter_reading', 'service_issue',
                          'goodwill', 'dispute', 'other')),
    financial_code_id uuid NOT NULL REFERENCES financial_codes (id),
    currency          text NOT NULL,
    total             numeric NOT NULL CHECK (total >= 0),
    amount_applied    numeric NOT NULL DEFAULT 0 CHECK (amount_applied >= 0),
    amount_refunded   numeric NOT NULL DEFAULT 0 CHECK (amount_refunded >= 0),
    dispute_id        uuid UNIQUE REFERENCES disputes (id),
    memo              text,
    credit_date       date,
    submitted_by      text,
    submitted_at      timestamptz,
    approved_by       text,
    approved_at       timestamptz,
    approval_note     text,
    rejected_by       text,
    rejection_note    text,
    issued_at         timestamptz,
    voided_at         timestamptz,
    void_reason       text,
    created_by        text NOT NULL,
    version           integer NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    CONSTRAINT credit_memos_not_overused CHECK (amount_applied + amount_refunded <= total),
    CHECK ((number IS NULL) = (status IN ('draft', 'pending_approval', 'rejected')) OR (status = 'void' AND issued_at IS NULL))
);
CREATE INDEX credit_memos_account_idx ON credit_memos (account_id, status);
ALTER TABLE disputes ADD FOREIGN KEY (credit_memo_id) REFERENCES credit_memos (id);

CREATE TABLE credit_memo_lines (
    id             uuid PRIMARY KEY,
    credit_memo_id uuid NOT NULL REFERENCES credit_memos (id),
    line_no        integer NOT NULL,
    description    text NOT NULL,
    amount         numeric NOT NULL CHECK (amount > 0),
    UNIQUE (credit_memo_id, line_no)
);

-- Where a draft says its credit goes; applied when the memo is issued.
CREATE TABLE credit_memo_targets (
    credit_memo_id uuid NOT NULL REFERENCES credit_memos (id),
    invoice_id     uuid NOT NULL REFERENCES invoices (id),
    amount         numeric NOT NULL CHECK (amount > 0),
    PRIMARY KEY (credit_memo_id, invoice_id)
);

CREATE TABLE credit_applications (
    id             uuid PRIMARY KEY,
    credit_memo_id uuid NOT NULL REFERENCES credit_memos (id),
    invoice_id     uuid NOT NULL REFERENCES invoices (id),
    amount         numeric NOT NULL CHECK (amount > 0),
    applied_on     date NOT NULL,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL
);
CREATE INDEX credit_applications_memo_idx ON credit_applications (credit_memo_id);
CREATE INDEX credit_applications_invoice_idx ON credit_applications (invoice_id);

CREATE TABLE credit_refunds (
    id             uuid PRIMARY KEY,
    credit_memo_id uuid NOT NULL REFERENCES credit_memos (id),
    amount         numeric NOT NULL CHECK (amount > 0),
    method         text NOT NULL CHECK (method IN ('ach', 'check', 'wire', 'card')),
    reference      text,
    refunded_on    date NOT NULL,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL
);
CREATE INDEX credit_refunds_memo_idx ON credit_refunds (credit_memo_id);

-- Adjustments: late fees (billed on a fee invoice), bad-debt write-offs, recoveries.
ALTER TABLE adjustments DROP CONSTRAINT adjustments_kind_check;
ALTER TABLE adjustments ADD CONSTRAINT adjustments_kind_check
    CHECK (kind IN ('small_balance_write_off', 'late_fee', 'bad_debt_write_off', 'recovery'));
ALTER TABLE adjustments ADD COLUMN payment_id uuid REFERENCES payments (id);
CREATE INDEX adjustments_kind_idx ON adjustments (kind, created_at);

ALTER TABLE deductions ADD COLUMN dispute_id uuid REFERENCES disputes (id);
