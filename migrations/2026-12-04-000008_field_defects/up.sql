-- What a day of field use found: agency commissions posted under their own code, and the
-- rest of the corrections that follow.

-- Costs the company bears on its receivables (an agency's commission) have codes of their own.
ALTER TABLE financial_codes DROP CONSTRAINT financial_codes_kind_check;
ALTER TABLE financial_codes ADD CONSTRAINT financial_codes_kind_check
    CHECK (kind IN ('revenue', 'tax', 'credit', 'write_off', 'fee', 'refund', 'expense'));

-- A placement names the code its agency's commission is posted under.
ALTER TABLE agency_placements ADD COLUMN commission_financial_code_id uuid REFERENCES financial_codes (id);

-- The commission kept on a recovery is an adjustment of its own (no invoice: what the customer
-- owes is settled by the gross amount; the deposit is the gross less this).
ALTER TABLE adjustments DROP CONSTRAINT adjustments_kind_check;
ALTER TABLE adjustments ADD CONSTRAINT adjustments_kind_check
    CHECK (kind IN ('small_balance_write_off', 'late_fee', 'bad_debt_write_off', 'recovery',
                    'agency_commission'));
ALTER TABLE placement_recoveries ADD COLUMN commission_adjustment_id uuid REFERENCES adjustments (id);
CREATE INDEX adjustments_payment_idx ON adjustments (payment_id) WHERE payment_id IS NOT NULL;

-- Quarters and years on the calendar's grid: the month a quarterly or annual period starts in
-- (quarters Jan/Apr/Jul/Oct with 1, a fiscal year from July with 7). Without it, the grid
-- starts from the contract's first anchor date.
ALTER TABLE contracts ADD COLUMN anchor_month smallint CHECK (anchor_month BETWEEN 1 AND 12);

-- Credits carry their tax. A credit line may be of an invoice line (and, for a contract's
-- credits, of a charge's period, under the charge's code): of a taxable line its amount is
-- net and its tax is the invoice's tax on what was left taxable less its tax on what is left,
-- each rounded once as the invoice's was. An invoice keeps the taxable amount credited so far.
ALTER TABLE credit_memo_lines
    ADD COLUMN invoice_id uuid REFERENCES invoices (id),
    ADD COLUMN invoice_line_id uuid REFERENCES invoice_lines (id),
    ADD COLUMN financial_code_id uuid REFERENCES financial_codes (id),
    ADD COLUMN taxable boolean NOT NULL DEFAULT false,
    ADD COLUMN tax_amount numeric NOT NULL DEFAULT 0 CHECK (tax_amount >= 0),
    ADD COLUMN period_start date,
    ADD COLUMN period_end date,
    ADD CONSTRAINT credit_memo_lines_line_has_invoice CHECK (invoice_line_id IS NULL OR invoice_id IS NOT NULL),
    ADD CONSTRAINT credit_memo_lines_tax_of_taxable CHECK (taxable OR tax_amount = 0);
CREATE INDEX credit_memo_lines_invoice_idx ON credit_memo_lines (invoice_id) WHERE invoice_id IS NOT NULL;
ALTER TABLE credit_memos ADD COLUMN tax_total numeric NOT NULL DEFAULT 0 CHECK (tax_total >= 0 AND tax_total <= total);
ALTER TABLE invoices ADD COLUMN credited_taxable numeric NOT NULL DEFAULT 0 CHECK (credited_taxable >= 0);
-- A dispute of a taxable line is of its net amount; the tax on it is held with it.
ALTER TABLE disputes ADD COLUMN tax_amount numeric NOT NULL DEFAULT 0 CHECK (tax_amount >= 0);

-- A wrong reading is voided (with who, when and why) or corrected: the correction is a new
-- reading that names the one it replaces; the old one stays, voided, as history.
ALTER TABLE meter_readings
    ADD COLUMN voided_at timestamptz,
    ADD COLUMN voided_by text,
    ADD COLUMN void_reason text,
    ADD COLUMN replaces_id uuid REFERENCES meter_readings (id),
    ADD CONSTRAINT meter_readings_void_complete
        CHECK ((voided_at IS NULL) = (voided_by IS NULL) AND (voided_at IS NULL) = (void_reason IS NULL));
DROP INDEX meter_readings_actual_key;
CREATE UNIQUE INDEX meter_readings_actual_key ON meter_readings (meter_id, read_on)
    WHERE source <> 'estimated' AND voided_at IS NULL;
CREATE UNIQUE INDEX meter_readings_replaces_key ON meter_readings (replaces_id) WHERE replaces_id IS NOT NULL;
-- The corrected value of a billed period's end reading, for the next invoice to true up to.
ALTER TABLE meter_periods ADD COLUMN corrected_end_value bigint CHECK (corrected_end_value >= 0);

-- Termination settles the contract: charges billed in advance for days after it are credited.
ALTER TABLE credit_memos DROP CONSTRAINT credit_memos_reason_check;
ALTER TABLE credit_memos ADD CONSTRAINT credit_memos_reason_check
    CHECK (reason IN ('billing_error', 'pricing', 'meter_reading', 'service_issue', 'goodwill',
                      'dispute', 'termination', 'other'));
