DROP INDEX disputes_active_deduction;
ALTER TABLE disputes ADD CONSTRAINT disputes_deduction_id_key UNIQUE (deduction_id);
