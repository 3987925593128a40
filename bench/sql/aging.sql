-- GET /v1/collections/aging (as of today, by account): the one query the service runs, with
-- its parameters written in ($1: today, $2: the start of tomorrow).
WITH later AS (
     SELECT l.invoice_id, sum(l.amount) AS amount
       FROM ledger_entries l
      WHERE l.invoice_id IS NOT NULL AND l.entry_date > CURRENT_DATE
      GROUP BY l.invoice_id
      HAVING sum(l.amount) <> 0),
 held AS (
     SELECT i.id, i.account_id, i.currency, i.number, i.invoice_date, i.due_date,
            i.balance_due - COALESCE(x.amount, 0) AS balance
       FROM invoices i
       LEFT JOIN later x ON x.invoice_id = i.id
      WHERE i.status = 'open'
     UNION ALL
     SELECT i.id, i.account_id, i.currency, i.number, i.invoice_date, i.due_date,
            i.balance_due - x.amount
       FROM later x
       JOIN invoices i ON i.id = x.invoice_id
      WHERE i.status <> 'open'),
 disputed AS (
     SELECT d.invoice_id, sum(d.amount) AS amount
       FROM disputes d
      WHERE d.opened_on <= CURRENT_DATE AND (d.resolved_at IS NULL OR d.resolved_at >= (CURRENT_DATE + 1)::timestamptz)
      GROUP BY d.invoice_id),
 aged AS (
     SELECT h.account_id, h.currency, h.balance, CURRENT_DATE - h.due_date AS days,
            h.id AS invoice_id, h.number AS invoice_number, h.invoice_date, h.due_date,
            LEAST(COALESCE(x.amount, 0), GREATEST(h.balance, 0)) AS disputed
       FROM held h
       LEFT JOIN disputed x ON x.invoice_id = h.id
      WHERE h.balance <> 0)
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
