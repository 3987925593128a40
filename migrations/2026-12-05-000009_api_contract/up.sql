-- A deduction's dispute that was withdrawn or found invalid gives the deduction back, and it
-- may be disputed again: one active dispute per deduction, not one ever.
ALTER TABLE disputes DROP CONSTRAINT disputes_deduction_id_key;
CREATE UNIQUE INDEX disputes_active_deduction ON disputes (deduction_id)
    WHERE status IN ('open', 'under_review');
