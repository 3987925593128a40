-- Bank files: what the banks sent (BAI2, camt.053/054, NACHA returns, lockbox CSV), kept as
-- received with its SHA-256; the same file again is recognised by it and imports nothing.
CREATE TABLE bank_files (
    id           uuid        PRIMARY KEY,
    format       text        NOT NULL CHECK (format IN ('bai2', 'camt053', 'camt054',
                                                        'nacha_returns', 'lockbox_csv')),
    sha256       text        NOT NULL UNIQUE,
    size_bytes   integer     NOT NULL CHECK (size_bytes > 0),
    content      bytea       NOT NULL,
    transactions integer     NOT NULL,
    imported_by  text        NOT NULL,
    imported_at  timestamptz NOT NULL
);

-- Each transaction of a file with its raw fields and what cash application made of it.
-- `identity` is stable across files (the bank's own reference of the transaction): the
-- first occurrence holds it (the partial unique index), a later one points at it with
-- `duplicate_of` and records no cash.
CREATE TABLE bank_transactions (
    id              uuid        PRIMARY KEY,
    file_id         uuid        NOT NULL REFERENCES bank_files (id),
    position        integer     NOT NULL,
    location        text        NOT NULL,
    identity        text        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('credit', 'return', 'other')),
    amount          numeric     NOT NULL CHECK (amount >= 0),
    currency        text,
    value_date      date,
    method          text        NOT NULL,
    bank_reference  text,
    payer_name      text,
    payer_account   text,
    text            text        NOT NULL,
    remittance      jsonb       NOT NULL,
    returned_reference text,
    return_code     text,
    raw             jsonb       NOT NULL,
    outcome         text        NOT NULL CHECK (outcome IN ('matched', 'suggested', 'unidentified',
                                'assigned', 'returned', 'return_unmatched', 'duplicate', 'ignored')),
    rule            text        CHECK (rule IN ('remittance', 'reference', 'payer_invoice',
                                'payer_invoice_set', 'payer_oldest_first', 'payer_unapplied',
                                'payer_ambiguous', 'manual', 'return')),
    confidence      numeric(3, 2) CHECK (confidence BETWEEN 0 AND 1),
    explanation     text        NOT NULL,
    suggestions     jsonb       NOT NULL DEFAULT '[]',
    account_id      uuid        REFERENCES accounts (id),
    payment_id      uuid        REFERENCES payments (id),
    duplicate_of    uuid        REFERENCES bank_transactions (id),
    assigned_by     text,
    assigned_at     timestamptz,
    created_at      timestamptz NOT NULL,
    UNIQUE (file_id, position)
);
CREATE UNIQUE INDEX bank_transactions_identity_idx ON bank_transactions (identity)
    WHERE duplicate_of IS NULL;
CREATE INDEX bank_transactions_unidentified_idx ON bank_transactions (id)
    WHERE outcome = 'unidentified';
CREATE INDEX bank_transactions_payment_idx ON bank_transactions (payment_id)
    WHERE payment_id IS NOT NULL;
CREATE INDEX bank_transactions_reference_idx ON bank_transactions (bank_reference)
    WHERE payment_id IS NOT NULL;

-- Who pays for an account as the bank names them: a bank account or a name seen on a
-- payment matched to it (learned), normalised. A value learned for two accounts identifies
-- neither.
CREATE TABLE payer_identities (
    kind        text        NOT NULL CHECK (kind IN ('bank_account', 'name')),
    value       text        NOT NULL,
    account_id  uuid        NOT NULL REFERENCES accounts (id),
    learned_from uuid       REFERENCES bank_transactions (id),
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (kind, value, account_id)
);
CREATE INDEX payer_identities_account_idx ON payer_identities (account_id);

-- Unidentified cash's suggestions: open invoices of exactly the amount.
CREATE INDEX invoices_open_balance_idx ON invoices (balance_due) WHERE status = 'open';
