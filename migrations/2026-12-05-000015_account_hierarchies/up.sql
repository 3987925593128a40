-- Customer hierarchies: an account may sit under a parent (a head office over its sites) and
-- may be judged for credit with its parent (`credit_scope = 'parent'`). The same currency, no
-- cycles and at most five levels are the service's rules, checked under a lock when a parent
-- is set; the database keeps what it can check in one row.
ALTER TABLE accounts
    ADD COLUMN parent_id uuid REFERENCES accounts (id),
    ADD COLUMN credit_scope text NOT NULL DEFAULT 'own' CHECK (credit_scope IN ('own', 'parent')),
    ADD CONSTRAINT accounts_parent_not_itself CHECK (parent_id <> id),
    ADD CONSTRAINT accounts_parent_credit_needs_parent
        CHECK (credit_scope = 'own' OR parent_id IS NOT NULL);

-- A parent's children: the family tree is walked down from its top.
CREATE INDEX accounts_parent_idx ON accounts (parent_id) WHERE parent_id IS NOT NULL;
