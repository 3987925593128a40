-- GET /v1/reports/cash-receipts (the 30 days to today): the one query the service runs
-- (src/reports/store/mod.rs), with its parameters written in.
SELECT p.received_date, p.method, a.id AS account_id, a.number AS account_number,
                a.legal_name, p.currency, count(*) AS payments,
                sum(p.amount) AS received,
                COALESCE(sum(p.amount_applied) FILTER (WHERE p.status <> 'returned'), 0) AS applied,
                COALESCE(sum(p.amount_refunded) FILTER (WHERE p.status <> 'returned'), 0) AS refunded,
                COALESCE(sum(p.amount) FILTER (WHERE p.status = 'returned'), 0) AS returned,
                COALESCE(sum(p.amount - p.amount_applied - p.amount_refunded)
                         FILTER (WHERE p.status <> 'returned'), 0) AS unapplied
           FROM payments p
           JOIN accounts a ON a.id = p.account_id
          WHERE p.received_date BETWEEN CURRENT_DATE - 30 AND CURRENT_DATE AND true
          GROUP BY p.received_date, p.method, a.id, p.currency
          ORDER BY p.received_date, p.method, a.number, p.currency;
