-- GET /v1/invoices?account_id=…&limit=50: the statements the service runs for it (a page of
-- 50 invoices plus one to know whether there are more, then the lines, payments, credits
-- and deductions of those invoices), for an account drawn at random. The service keeps the
-- page's ids from the first statement; pgbench cannot, so it reads them again with an index
-- scan before the other three (a little more work than the service does).
\set n random(1, :accounts)
SELECT id AS account FROM bench_accounts WHERE n = :n \gset
SELECT invoices.* FROM invoices INNER JOIN accounts ON invoices.account_id = accounts.id
 WHERE invoices.account_id = :account ORDER BY invoices.id LIMIT 51;
SELECT array_agg(id)::text AS page FROM
       (SELECT id FROM invoices WHERE account_id = :account ORDER BY id LIMIT 51) x \gset
SELECT invoice_lines.* FROM invoice_lines
 WHERE invoice_lines.invoice_id = ANY (:page::uuid[])
 ORDER BY invoice_lines.invoice_id, invoice_lines.line_no;
SELECT payment_applications.*, payments.number, payments.currency, invoices.number
  FROM payment_applications
  JOIN payments ON payment_applications.payment_id = payments.id
  JOIN invoices ON payment_applications.invoice_id = invoices.id
 WHERE payment_applications.invoice_id = ANY (:page::uuid[])
 ORDER BY payment_applications.id;
SELECT credit_applications.*, credit_memos.number, credit_memos.currency, invoices.number
  FROM credit_applications
  JOIN credit_memos ON credit_applications.credit_memo_id = credit_memos.id
  JOIN invoices ON credit_applications.invoice_id = invoices.id
 WHERE credit_applications.invoice_id = ANY (:page::uuid[])
 ORDER BY credit_applications.id;
SELECT deductions.* FROM deductions
 WHERE deductions.invoice_id = ANY (:page::uuid[])
 ORDER BY deductions.id;
