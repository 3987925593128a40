ALTER DEFAULT PRIVILEGES IN SCHEMA public
    REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM receivables_service;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    REVOKE USAGE, SELECT ON SEQUENCES FROM receivables_service;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM receivables_service;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM receivables_service;
REVOKE USAGE ON SCHEMA public FROM receivables_service;
DO $$
BEGIN
    EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM receivables_service', current_database());
END
$$;
-- The role itself belongs to the cluster, where other databases may still use it.
