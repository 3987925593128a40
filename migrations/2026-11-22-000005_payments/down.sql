DROP INDEX invoices_account_open_idx;
ALTER TABLE deductions DROP CONSTRAINT deductions_adjustment_id_fkey;
DROP TABLE adjustments;
DROP TABLE deductions;
DROP TABLE payment_refunds;
DROP TABLE payment_applications;
DROP TABLE payments;
DROP SEQUENCE payment_numbers;
