-- The invoice entries by date: an aging as of a day reads the kept balances of the open
-- invoices and subtracts only the entries dated after that day (none, as of today), instead of
-- summing the whole ledger. The included columns let that read stay in the index.
CREATE INDEX ledger_entries_invoice_dated_idx ON ledger_entries (entry_date)
    INCLUDE (invoice_id, amount) WHERE invoice_id IS NOT NULL;
