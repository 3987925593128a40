-- The service's queries run as `receivables_service`, a role that owns nothing: it reads and
-- writes rows, and no more. It cannot alter a table, disable a trigger or set
-- session_replication_role, so the append-only audit log and ledger stay append-only even
-- against the service's own credentials. Migrations run as the owner of the tables.
--
-- The role belongs to the whole PostgreSQL cluster. It is made here (without LOGIN) when it
-- does not exist yet and the owner may create roles; in production a DBA usually makes it
-- first, with LOGIN and a password (README, "Database roles").
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'receivables_service') THEN
        CREATE ROLE receivables_service NOLOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO receivables_service', current_database());
END
$$;

GRANT USAGE ON SCHEMA public TO receivables_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO receivables_service;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO receivables_service;

-- Rows that are never changed or removed: the service may only add them.
REVOKE UPDATE, DELETE ON audit_events, ledger_entries FROM receivables_service;
-- A financial code is deactivated, never deleted.
REVOKE DELETE ON financial_codes FROM receivables_service;
-- The migrations' own bookkeeping is the owner's.
REVOKE INSERT, UPDATE, DELETE ON __diesel_schema_migrations FROM receivables_service;

-- Tables and sequences the owner creates in later migrations get the same rights; a later
-- append-only table revokes UPDATE and DELETE itself.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO receivables_service;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO receivables_service;
