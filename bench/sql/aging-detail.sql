-- GET /v1/reports/aging-detail (as of today, the whole book): the one query the service
-- streams (src/reports/store/aging.rs), with its parameters written in (no filter).
WITH open AS (
             SELECT l.invoice_id, sum(l.amount) AS balance
               FROM ledger_entries l
              WHERE l.invoice_id IS NOT NULL AND l.entry_date <= CURRENT_DATE
              GROUP BY l.invoice_id
             HAVING sum(l.amount) <> 0),
         disputed AS (
             SELECT d.invoice_id, sum(d.amount) AS amount
               FROM disputes d
              WHERE d.opened_on <= CURRENT_DATE AND (d.resolved_at IS NULL OR d.resolved_at >= (CURRENT_DATE + 1)::timestamptz)
              GROUP BY d.invoice_id),
         aged AS (
             SELECT i.account_id, i.currency, o.balance, CURRENT_DATE - i.due_date AS days,
                    i.id AS invoice_id, i.number AS invoice_number, i.invoice_date, i.due_date,
                    LEAST(COALESCE(x.amount, 0), GREATEST(o.balance, 0)) AS disputed
               FROM open o
               JOIN invoices i ON i.id = o.invoice_id
               LEFT JOIN disputed x ON x.invoice_id = o.invoice_id),
         unapplied AS (
             SELECT l.account_id, a.currency, -sum(l.amount) AS amount
               FROM ledger_entries l
               JOIN accounts a ON a.id = l.account_id
              WHERE l.invoice_id IS NULL AND l.entry_date <= CURRENT_DATE
              GROUP BY l.account_id, a.currency
             HAVING sum(l.amount) <> 0),
         filtered AS (
             SELECT a.id FROM accounts a
               LEFT JOIN collection_profiles cp ON cp.account_id = a.id
              WHERE true),
         lines AS (
             SELECT g.account_id, g.currency, 0 AS place, 'invoice' AS kind, g.invoice_id,
                    g.invoice_number, g.invoice_date, g.due_date, g.days, g.balance, g.disputed,
                    NULL::numeric AS unapplied
               FROM aged g
             UNION ALL
             SELECT u.account_id, u.currency, 1, 'unapplied', NULL, NULL, NULL, NULL, NULL, NULL,
                    NULL, u.amount
               FROM unapplied u)
         SELECT a.id AS account_id, a.number AS account_number, a.legal_name, l.kind,
                l.invoice_id, l.invoice_number, l.invoice_date, l.due_date,
                l.days AS days_past_due,
                CASE WHEN l.days IS NULL THEN NULL
                     WHEN l.days <= 0 THEN 'current' WHEN l.days <= 30 THEN '1-30'
                     WHEN l.days <= 60 THEN '31-60' WHEN l.days <= 90 THEN '61-90'
                     WHEN l.days <= 120 THEN '91-120' ELSE 'over_120' END AS bucket,
                l.currency, l.balance, l.disputed, l.unapplied,
                cp.collector, p.code AS partner_code, a.risk_level
           FROM lines l
           JOIN filtered x ON x.id = l.account_id
           JOIN accounts a ON a.id = l.account_id
           LEFT JOIN partners p ON p.id = a.partner_id
           LEFT JOIN collection_profiles cp ON cp.account_id = a.id
          ORDER BY a.number, l.currency, l.place, l.due_date, l.invoice_number;
