ALTER TABLE tasks DROP CONSTRAINT tasks_subject_type_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_subject_type_check CHECK (subject_type IN
    ('account', 'contract', 'invoice', 'equipment', 'meter'));
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE outbox_events;
DROP TABLE crm_events;
ALTER TABLE contracts DROP COLUMN external_crm_id;
