ALTER TABLE credit_memos DROP CONSTRAINT credit_memos_reason_check;
ALTER TABLE credit_memos ADD CONSTRAINT credit_memos_reason_check
    CHECK (reason IN ('billing_error', 'pricing', 'meter_reading', 'service_issue', 'goodwill',
                      'dispute', 'other'));
ALTER TABLE meter_periods DROP COLUMN corrected_end_value;
DROP INDEX meter_readings_replaces_key;
DROP INDEX meter_readings_actual_key;
DELETE FROM meter_readings WHERE voided_at IS NOT NULL;
CREATE UNIQUE INDEX meter_readings_actual_key ON meter_readings (meter_id, read_on) WHERE source <> 'estimated';
ALTER TABLE meter_readings DROP CONSTRAINT meter_readings_void_complete, DROP COLUMN replaces_id,
    DROP COLUMN void_reason, DROP COLUMN voided_by, DROP COLUMN voided_at;
ALTER TABLE disputes DROP COLUMN tax_amount;
ALTER TABLE invoices DROP COLUMN credited_taxable;
ALTER TABLE credit_memos DROP COLUMN tax_total;
DROP INDEX credit_memo_lines_invoice_idx;
ALTER TABLE credit_memo_lines DROP CONSTRAINT credit_memo_lines_tax_of_taxable,
    DROP CONSTRAINT credit_memo_lines_line_has_invoice, DROP COLUMN period_end,
    DROP COLUMN period_start, DROP COLUMN tax_amount, DROP COLUMN taxable,
    DROP COLUMN financial_code_id, DROP COLUMN invoice_line_id, DROP COLUMN invoice_id;
ALTER TABLE contracts DROP COLUMN anchor_month;
DROP INDEX adjustments_payment_idx;
ALTER TABLE placement_recoveries DROP COLUMN commission_adjustment_id;
DELETE FROM adjustments WHERE kind = 'agency_commission';
ALTER TABLE adjustments DROP CONSTRAINT adjustments_kind_check;
ALTER TABLE adjustments ADD CONSTRAINT adjustments_kind_check
    CHECK (kind IN ('small_balance_write_off', 'late_fee', 'bad_debt_write_off', 'recovery'));
ALTER TABLE agency_placements DROP COLUMN commission_financial_code_id;
ALTER TABLE financial_codes DROP CONSTRAINT financial_codes_kind_check;
ALTER TABLE financial_codes ADD CONSTRAINT financial_codes_kind_check
    CHECK (kind IN ('revenue', 'tax', 'credit', 'write_off', 'fee', 'refund'));
