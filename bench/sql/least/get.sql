-- GET /v1/invoices/{id}: the least SQL for the same document, one statement building the
-- invoice with its lines, payments, credits and deductions (json_build_object / json_agg),
-- for an invoice drawn at random from the same sample the API scenario draws from.
\set n random(1, :invoices)
SELECT id AS invoice FROM bench_invoices WHERE n = :n \gset
SELECT json_build_object(
         'invoice', to_jsonb(i),
         'lines', (SELECT COALESCE(json_agg(l ORDER BY l.line_no), '[]')
                     FROM invoice_lines l WHERE l.invoice_id = i.id),
         'payments', (SELECT COALESCE(json_agg(json_build_object(
                                 'application', a, 'payment_number', p.number,
                                 'currency', p.currency, 'invoice_number', i.number)
                               ORDER BY a.id), '[]')
                        FROM payment_applications a JOIN payments p ON p.id = a.payment_id
                       WHERE a.invoice_id = i.id),
         'credits', (SELECT COALESCE(json_agg(json_build_object(
                                'application', c, 'credit_memo_number', m.number,
                                'currency', m.currency, 'invoice_number', i.number)
                              ORDER BY c.id), '[]')
                       FROM credit_applications c JOIN credit_memos m ON m.id = c.credit_memo_id
                      WHERE c.invoice_id = i.id),
         'deductions', (SELECT COALESCE(json_agg(d ORDER BY d.id), '[]')
                          FROM deductions d WHERE d.invoice_id = i.id))
  FROM invoices i JOIN accounts ac ON ac.id = i.account_id
 WHERE i.id = :invoice;
