DROP INDEX accounts_parent_idx;
ALTER TABLE accounts
    DROP CONSTRAINT accounts_parent_credit_needs_parent,
    DROP CONSTRAINT accounts_parent_not_itself,
    DROP COLUMN credit_scope,
    DROP COLUMN parent_id;
