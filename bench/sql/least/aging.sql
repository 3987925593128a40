-- GET /v1/collections/aging (as of today, by account): the least SQL for the same rows. The
-- open invoices' kept balances (balance_due, which every money movement keeps equal to the
-- invoice's ledger entries) instead of summing every ledger entry; an invoice dated after
-- today is not open yet.
WITH disputed AS (
     SELECT d.invoice_id, sum(d.amount) AS amount
       FROM disputes d
      WHERE d.opened_on <= CURRENT_DATE
        AND (d.resolved_at IS NULL OR d.resolved_at >= (CURRENT_DATE + 1)::timestamptz)
      GROUP BY d.invoice_id),
 aged AS (
     SELECT i.account_id, i.currency, i.balance_due AS balance, CURRENT_DATE - i.due_date AS days,
            LEAST(COALESCE(x.amount, 0), GREATEST(i.balance_due, 0)) AS disputed
       FROM invoices i
       LEFT JOIN disputed x ON x.invoice_id = i.id
      WHERE i.status = 'open' AND i.balance_due <> 0 AND i.invoice_date <= CURRENT_DATE)
 SELECT a.id AS key, a.number || ' ' || a.legal_name AS label, g.currency,
        COALESCE(sum(g.balance) FILTER (WHERE g.days <= 0), 0) AS current,
        COALESCE(sum(g.balance) FILTER (WHERE g.days BETWEEN 1 AND 30), 0) AS days_1_30,
        COALESCE(sum(g.balance) FILTER (WHERE g.days BETWEEN 31 AND 60), 0) AS days_31_60,
        COALESCE(sum(g.balance) FILTER (WHERE g.days BETWEEN 61 AND 90), 0) AS days_61_90,
        COALESCE(sum(g.balance) FILTER (WHERE g.days BETWEEN 91 AND 120), 0) AS days_91_120,
        COALESCE(sum(g.balance) FILTER (WHERE g.days > 120), 0) AS days_over_120,
        sum(g.disputed) AS disputed,
        sum(g.balance) AS total,
        count(*) AS open_invoices
   FROM aged g
   JOIN accounts a ON a.id = g.account_id
   LEFT JOIN partners p ON p.id = a.partner_id
   LEFT JOIN collection_profiles cp ON cp.account_id = a.id
  GROUP BY 1, 2, 3
  ORDER BY total DESC, label, currency;
