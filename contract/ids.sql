-- The ids scripts/check-api hands to contract/hooks.py: a few of every kind the seed made, and
-- pairs for the paths that name a parent and a child. One JSON object.
SELECT json_build_object(
  'accounts', (SELECT json_agg(id) FROM (SELECT id FROM accounts ORDER BY id LIMIT 40) s),
  'adjustments', (SELECT json_agg(id) FROM (SELECT id FROM adjustments ORDER BY id LIMIT 40) s),
  'billing_runs', (SELECT json_agg(id) FROM (SELECT id FROM billing_runs ORDER BY id LIMIT 40) s),
  'contacts', (SELECT json_agg(id) FROM (SELECT id FROM contacts ORDER BY id LIMIT 40) s),
  'contracts', (SELECT json_agg(id) FROM (SELECT id FROM contracts ORDER BY id LIMIT 40) s),
  'credit_memos', (SELECT json_agg(id) FROM (SELECT id FROM credit_memos ORDER BY id LIMIT 40) s),
  'deductions', (SELECT json_agg(id) FROM (SELECT id FROM deductions ORDER BY id LIMIT 40) s),
  'disputes', (SELECT json_agg(id) FROM (SELECT id FROM disputes ORDER BY id LIMIT 40) s),
  'equipment', (SELECT json_agg(id) FROM (SELECT id FROM equipment ORDER BY id LIMIT 40) s),
  'financial_codes', (SELECT json_agg(id) FROM (SELECT id FROM financial_codes ORDER BY id LIMIT 40) s),
  'invoices', (SELECT json_agg(id) FROM (SELECT id FROM invoices ORDER BY id LIMIT 40) s),
  'invoice_lines', (SELECT json_agg(id) FROM (SELECT id FROM invoice_lines ORDER BY id LIMIT 40) s),
  'meter_readings', (SELECT json_agg(id) FROM (SELECT id FROM meter_readings ORDER BY id LIMIT 40) s),
  'meters', (SELECT json_agg(id) FROM (SELECT id FROM meters ORDER BY id LIMIT 40) s),
  'partners', (SELECT json_agg(id) FROM (SELECT id FROM partners ORDER BY id LIMIT 40) s),
  'payments', (SELECT json_agg(id) FROM (SELECT id FROM payments ORDER BY id LIMIT 40) s),
  'webhook_endpoints', (SELECT json_agg(id) FROM (SELECT id FROM webhook_endpoints ORDER BY id LIMIT 40) s),
  'pairs', json_build_object(
    'contact_id', (SELECT json_agg(json_build_array(account_id, id)) FROM (SELECT account_id, id FROM contacts ORDER BY id LIMIT 40) s),
    'application_id', (SELECT json_agg(json_build_array(payment_id, id)) FROM (SELECT payment_id, id FROM payment_applications ORDER BY id LIMIT 40) s)
  )
);
