DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE outbox_events;
DROP TABLE crm_events;
ALTER TABLE contracts DROP COLUMN external_crm_id;
