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
