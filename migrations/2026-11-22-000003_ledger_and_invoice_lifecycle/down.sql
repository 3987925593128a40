DROP TABLE ledger_entries;
DROP FUNCTION ledger_entries_refuse_change();
ALTER TABLE invoices
    DROP COLUMN po_number, DROP COLUMN reference_fields, DROP COLUMN memo,
    DROP COLUMN amount_paid, DROP COLUMN amount_credited, DROP COLUMN amount_written_off,
    DROP COLUMN balance_due, DROP COLUMN disputed_amount, DROP COLUMN voided_at,
    DROP COLUMN void_reason;
