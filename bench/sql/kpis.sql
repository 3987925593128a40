-- GET /v1/reports/kpis (the twelve whole months before today): the two queries the service
-- runs (src/reports/store/mod.rs), with their parameters written in.
SELECT date_trunc('month', l.entry_date)::date AS month, l.currency,
                COALESCE(sum(l.amount) FILTER (WHERE l.invoice_id IS NOT NULL), 0) AS ar_change,
                COALESCE(sum(l.amount) FILTER (WHERE l.kind IN ('invoice_issued', 'invoice_voided')), 0)
                    AS credit_sales,
                COALESCE(-sum(l.amount) FILTER (WHERE l.kind = 'write_off'
                                                  AND adj.kind = 'bad_debt_write_off'), 0) AS bad_debt
           FROM ledger_entries l
           LEFT JOIN adjustments adj ON l.document_type = 'adjustment' AND adj.id = l.document_id
          WHERE l.entry_date < ((date_trunc('month', CURRENT_DATE) - interval '1 month')::date + interval '1 month')::date
          GROUP BY 1, 2;
SELECT m.month, l.currency, sum(l.amount) AS current
           FROM (SELECT g::date AS month, (g + interval '1 month')::date - 1 AS last_day
                   FROM generate_series((date_trunc('month', CURRENT_DATE) - interval '12 months')::date, (date_trunc('month', CURRENT_DATE) - interval '1 month')::date, interval '1 month') g) m
           JOIN invoices i ON i.due_date >= m.last_day AND i.invoice_date <= m.last_day
           JOIN ledger_entries l ON l.invoice_id = i.id AND l.entry_date <= m.last_day
          GROUP BY 1, 2;
