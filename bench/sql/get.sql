-- GET /v1/invoices/{id}: the statements the service runs for it (the invoice, then its
-- lines, payments, credits and deductions), for an invoice drawn at random from the same
-- sample the API scenario draws from.
\set n random(1, :invoices)
SELECT id AS invoice FROM bench_invoices WHERE n = :n \gset
SELECT invoices.* FROM invoices INNER JOIN accounts ON invoices.account_id = accounts.id
 WHERE invoices.id = :invoice LIMIT 1;
SELECT invoice_lines.* FROM invoice_lines
 WHERE invoice_lines.invoice_id = ANY (ARRAY[:invoice]::uuid[])
 ORDER BY invoice_lines.invoice_id, invoice_lines.line_no;
SELECT payment_applications.*, payments.number, payments.currency, invoices.number
  FROM payment_applications
  JOIN payments ON payment_applications.payment_id = payments.id
  JOIN invoices ON payment_applications.invoice_id = invoices.id
 WHERE payment_applications.invoice_id = ANY (ARRAY[:invoice]::uuid[])
 ORDER BY payment_applications.id;
SELECT credit_applications.*, credit_memos.number, credit_memos.currency, invoices.number
  FROM credit_applications
  JOIN credit_memos ON credit_applications.credit_memo_id = credit_memos.id
  JOIN invoices ON credit_applications.invoice_id = invoices.id
 WHERE credit_applications.invoice_id = ANY (ARRAY[:invoice]::uuid[])
 ORDER BY credit_applications.id;
SELECT deductions.* FROM deductions
 WHERE deductions.invoice_id = ANY (ARRAY[:invoice]::uuid[])
 ORDER BY deductions.id;
