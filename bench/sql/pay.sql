-- POST /v1/payments (auto application, a fresh idempotency key each): the statements the
-- service runs in its transaction, in its order, for an account drawn at random from those
-- with an open invoice of 1,000 or more. The service picks the invoice to pay in Rust from
-- the rows it locked; here the UPDATE picks it (oldest due first, up to its undisputed
-- balance) and returns it; should the account have nothing left to pay, the cash stays
-- unapplied, as the service would leave it. The
-- invoice has no open deduction, so the two updates that would settle it are not run. The
-- service answers with the payment as it wrote it, without reading it back.
\set n random(1, :pay_accounts)
SELECT id AS account FROM bench_pay_accounts WHERE n = :n \gset
BEGIN;
INSERT INTO idempotency_keys (principal, key, fingerprint)
VALUES ('pgbench', 'pgbench-' || gen_random_uuid(), repeat('f', 64))
ON CONFLICT ON CONSTRAINT idempotency_keys_pkey DO NOTHING
RETURNING key \gset
SELECT accounts.* FROM accounts WHERE accounts.id = :account LIMIT 1;
SELECT nextval('payment_numbers') AS n, gen_random_uuid() AS payment \gset
SELECT invoices.* FROM invoices
 WHERE invoices.account_id = :account AND invoices.status = 'open' AND invoices.balance_due > 0
 ORDER BY invoices.id FOR UPDATE;
INSERT INTO payments (id, number, account_id, amount, currency, method, reference, received_date,
                      application_mode, memo, amount_applied, amount_refunded, status, returned_on,
                      return_reason, return_code, return_note, return_fee_invoice_id, version,
                      created_by, created_at, updated_at)
VALUES (:payment, 'PMT-' || lpad(:n::text, 6, '0'), :account, 50.00, 'USD', 'ach', NULL,
        CURRENT_DATE, 'auto', NULL, 50.00, 0, 'applied', NULL, NULL, NULL, NULL,
        NULL, 1, 'bench', now(), now());
\set found 0
WITH oldest AS (
     SELECT id, LEAST(50.00, balance_due - disputed_amount) AS paid FROM invoices
      WHERE account_id = :account AND status = 'open' AND balance_due - disputed_amount > 0
      ORDER BY due_date, invoice_date, number, id LIMIT 1)
UPDATE invoices i SET amount_paid = i.amount_paid + o.paid, balance_due = i.balance_due - o.paid,
       status = CASE WHEN i.balance_due = o.paid THEN 'paid' ELSE i.status END,
       version = i.version + 1, updated_at = now()
  FROM oldest o WHERE i.id = o.id
RETURNING i.id AS invoice, i.number AS invoice_number, o.paid AS paid, 1 AS found \aset
\if :found
INSERT INTO payment_applications (id, payment_id, invoice_id, amount, source, applied_on,
                                  created_by, created_at, reversed_at, reversed_by, reversal_reason)
VALUES (gen_random_uuid(), :payment, :invoice, :paid, 'auto', CURRENT_DATE, 'bench', now(),
        NULL, NULL, NULL);
SELECT deductions.id FROM deductions
 WHERE deductions.status = 'open' AND deductions.invoice_id = :invoice LIMIT 1;
INSERT INTO ledger_entries (id, account_id, invoice_id, kind, amount, currency, entry_date,
                            document_type, document_id, description, created_by, request_id, created_at)
VALUES (gen_random_uuid(), :account, DEFAULT, 'payment_received', -50.00, 'USD', CURRENT_DATE,
        'payment', :payment, 'Payment PMT-' || :n || ' received (ach)', 'bench', NULL, now()),
       (gen_random_uuid(), :account, DEFAULT, 'payment_applied', :paid, 'USD', CURRENT_DATE,
        'payment', :payment, 'Payment PMT-' || :n || ' applied to ' || :invoice_number, 'bench', NULL, now()),
       (gen_random_uuid(), :account, :invoice, 'payment_applied', -:paid::numeric, 'USD', CURRENT_DATE,
        'payment', :payment, 'Payment PMT-' || :n || ' applied to ' || :invoice_number, 'bench', NULL, now());
\else
INSERT INTO ledger_entries (id, account_id, invoice_id, kind, amount, currency, entry_date,
                            document_type, document_id, description, created_by, request_id, created_at)
VALUES (gen_random_uuid(), :account, DEFAULT, 'payment_received', -50.00, 'USD', CURRENT_DATE,
        'payment', :payment, 'Payment PMT-' || :n || ' received (ach)', 'bench', NULL, now());
\endif
SELECT promises.* FROM promises
 WHERE promises.account_id = :account AND promises.status = 'active'
 ORDER BY promises.id FOR UPDATE;
SELECT COALESCE(sum(balance_due - disputed_amount), 0) AS amount
  FROM invoices
 WHERE account_id = :account AND status = 'open' AND due_date < CURRENT_DATE;
INSERT INTO audit_events (actor, actor_role, action, entity_type, entity_id, account_id, before, after, request_id)
VALUES ('bench', 'billing', 'payment.received', 'payment', :payment, :account, NULL,
        jsonb_build_object('id', :payment::text, 'number', 'PMT-' || :n::text, 'amount', '50.00', 'status', 'applied',
                           'padding', repeat('x', 900)),
        NULL);
UPDATE idempotency_keys SET response_status = 201,
       response_body = jsonb_build_object('id', :payment::text, 'number', 'PMT-' || :n::text, 'amount', '50.00',
                                          'status', 'applied', 'padding', repeat('x', 900))
 WHERE principal = 'pgbench' AND key = :key;
COMMIT;
