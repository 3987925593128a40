-- GET /v1/reports/past-due (as of today, 10,000.00 at 60 days): the one query the service
-- runs (src/reports/store/mod.rs), with its parameters written in.
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
         owed AS (
             SELECT account_id, currency, sum(balance) AS balance,
                    COALESCE(sum(balance) FILTER (WHERE days > 0), 0) AS past_due,
                    COALESCE(sum(balance) FILTER (WHERE days >= 60), 0) AS past_due_beyond,
                    COALESCE(max(days) FILTER (WHERE balance > 0), 0) AS oldest_days,
                    sum(disputed) AS disputed
               FROM aged
              GROUP BY account_id, currency)
         SELECT a.id AS account_id, a.number AS account_number, a.legal_name, o.currency,
                o.balance, o.past_due, o.past_due_beyond, o.oldest_days, o.disputed,
                cp.collector,
                (SELECT max(n.created_at) FROM account_notes n
                  WHERE n.account_id = a.id AND n.created_at < (CURRENT_DATE + 1)::timestamptz) AS last_contact_at,
                pr.total AS promise_amount, pr.promised_on AS promise_date
           FROM owed o
           JOIN accounts a ON a.id = o.account_id
           LEFT JOIN collection_profiles cp ON cp.account_id = a.id
           LEFT JOIN LATERAL (
                SELECT p.total, p.promised_on FROM promises p
                 WHERE p.account_id = a.id AND p.currency = o.currency AND p.created_at < (CURRENT_DATE + 1)::timestamptz
                   AND (p.closed_on IS NULL OR p.closed_on > CURRENT_DATE)
                 ORDER BY p.promised_on LIMIT 1) pr ON true
          WHERE o.past_due_beyond >= 10000.00 AND o.past_due_beyond > 0
            AND true
          ORDER BY o.past_due_beyond DESC, a.number, o.currency;
