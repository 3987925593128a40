-- GET /v1/reports/aging-summary (as of today, by account): the one query the service runs
-- (src/reports/store/aging.rs), with its parameters written in (no filter).
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
         owed AS (
             SELECT g.account_id, g.currency,
                    COALESCE(sum(g.balance) FILTER (WHERE g.days <= 0), 0) AS current,
                    COALESCE(sum(g.balance) FILTER (WHERE g.days BETWEEN 1 AND 30), 0) AS days_1_30,
                    COALESCE(sum(g.balance) FILTER (WHERE g.days BETWEEN 31 AND 60), 0) AS days_31_60,
                    COALESCE(sum(g.balance) FILTER (WHERE g.days BETWEEN 61 AND 90), 0) AS days_61_90,
                    COALESCE(sum(g.balance) FILTER (WHERE g.days BETWEEN 91 AND 120), 0) AS days_91_120,
                    COALESCE(sum(g.balance) FILTER (WHERE g.days > 120), 0) AS days_over_120,
                    sum(g.balance) AS total, sum(g.disputed) AS disputed, count(*) AS open_invoices
               FROM aged g
              GROUP BY g.account_id, g.currency),
         book AS (
             SELECT COALESCE(o.account_id, u.account_id) AS account_id,
                    COALESCE(o.currency, u.currency) AS currency,
                    COALESCE(o.current, 0) AS current, COALESCE(o.days_1_30, 0) AS days_1_30,
                    COALESCE(o.days_31_60, 0) AS days_31_60, COALESCE(o.days_61_90, 0) AS days_61_90,
                    COALESCE(o.days_91_120, 0) AS days_91_120,
                    COALESCE(o.days_over_120, 0) AS days_over_120,
                    COALESCE(o.total, 0) AS total, COALESCE(o.disputed, 0) AS disputed,
                    COALESCE(o.open_invoices, 0) AS open_invoices, COALESCE(u.amount, 0) AS unapplied
               FROM owed o
               FULL JOIN unapplied u ON u.account_id = o.account_id AND u.currency = o.currency)
         SELECT a.id AS key, a.number || ' ' || a.legal_name AS label, b.currency,
                count(*) AS accounts, sum(b.open_invoices)::bigint AS open_invoices,
                sum(b.current) AS current, sum(b.days_1_30) AS days_1_30,
                sum(b.days_31_60) AS days_31_60, sum(b.days_61_90) AS days_61_90,
                sum(b.days_91_120) AS days_91_120, sum(b.days_over_120) AS days_over_120,
                sum(b.total) AS total, sum(b.disputed) AS disputed,
                sum(b.unapplied) AS unapplied, sum(b.total) - sum(b.unapplied) AS net
           FROM book b
           JOIN filtered x ON x.id = b.account_id
           JOIN accounts a ON a.id = b.account_id
           LEFT JOIN partners p ON p.id = a.partner_id
           LEFT JOIN collection_profiles cp ON cp.account_id = a.id
          GROUP BY 1, 2, 3
          ORDER BY total DESC, label, currency;
