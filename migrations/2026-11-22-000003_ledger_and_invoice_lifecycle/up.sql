-- The A/R ledger and what invoices need to be issued, presented and voided.

ALTER TABLE invoices
    ADD COLUMN po_number          text,
    ADD COLUMN reference_fields   jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN memo               text,
    ADD COLUMN amount_paid        numeric NOT NULL DEFAULT 0 CHECK (amount_paid >= 0),
    ADD COLUMN amount_credited    numeric NOT NULL DEFAULT 0 CHECK (amount_credited >= 0),
    ADD COLUMN amount_written_off numeric NOT NULL DEFAULT 0 CHECK (amount_written_off >= 0),
    ADD COLUMN balance_due        numeric NOT NULL DEFAULT 0 CHECK (balance_due >= 0),
    ADD COLUMN disputed_amount    numeric NOT NULL DEFAULT 0 CHECK (disputed_amount >= 0),
    ADD COLUMN voided_at          timestamptz,
    ADD COLUMN void_reason        text;
CREATE INDEX invoices_status_due_idx ON invoices (status, due_date) WHERE status = 'open';
CREATE INDEX invoices_account_due_idx ON invoices (account_id, due_date);

-- Every money movement of an account, signed: + raises what the account owes, − lowers it.
-- Account and invoice balances derive from it; nothing else records money.
CREATE TABLE ledger_entries (
    id            uuid PRIMARY KEY,
    seq           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    account_id    uuid NOT NULL REFERENCES accounts (id),
    invoice_id    uuid REFERENCES invoices (id),
    kind          text NOT NULL CHECK (kind IN ('invoice_issued', 'invoice_voided', 'payment_received',
                      'payment_applied', 'payment_reversal', 'credit_issued', 'credit_applied',
                      'credit_reversal', 'adjustment', 'write_off', 'refund')),
    amount        numeric NOT NULL CHECK (amount <> 0),
    currency      text NOT NULL,
    entry_date    date NOT NULL,
    document_type text NOT NULL CHECK (document_type IN ('invoice', 'payment', 'credit_memo', 'adjustment')),
    document_id   uuid NOT NULL,
    description   text NOT NULL,
    created_by    text NOT NULL,
    request_id    text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entries_account_idx ON ledger_entries (account_id, entry_date, seq);
CREATE INDEX ledger_entries_invoice_idx ON ledger_entries (invoice_id) WHERE invoice_id IS NOT NULL;

CREATE FUNCTION ledger_entries_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries is append-only: % refused; post a reversing entry', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_refuse_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_refuse_change();
