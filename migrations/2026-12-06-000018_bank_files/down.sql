DROP INDEX invoices_open_balance_idx;
DROP TABLE payer_identities;
DROP TABLE bank_transactions;
DROP TABLE bank_files;
