-- Credit management: reviews with the payment history computed for them, the next review
-- date of each account, and credit holds with their reason and who placed and released them.

-- When the account is next due for a credit review; NULL: from its opening date and risk level.
ALTER TABLE accounts ADD COLUMN next_review_date date;

CREATE TABLE credit_reviews (
    id uuid PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id),
    status text NOT NULL CHECK (status IN ('pending', 'escalated', 'approved', 'declined')),
    reason text NOT NULL
        CHECK (reason IN ('new_business', 'limit_increase', 'periodic', 'terms_exception')),
    currency text NOT NULL,
    requested_limit numeric(18, 2) NOT NULL CHECK (requested_limit >= 0),
    requested_terms_days integer NOT NULL CHECK (requested_terms_days BETWEEN 0 AND 365),
    -- The account's limit and terms when the review was opened.
    current_limit numeric(18, 2),
    current_terms_days integer NOT NULL,
    terms_exception boolean NOT NULL,
    note text,
    external_score jsonb,
    review_date date NOT NULL,
    -- The payment history as of review_date, each figure with its explanation.
    history jsonb NOT NULL,
    requested_by text NOT NULL,
    escalated_by text,
    escalation_note text,
    decided_by text,
    decided_role text,
    decided_at timestamptz,
    decision_note text,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX credit_reviews_account_idx ON credit_reviews (account_id, id);
CREATE INDEX credit_reviews_status_idx ON credit_reviews (status, id);
-- The scheduled job opens one periodic review per account, however often it runs.
CREATE UNIQUE INDEX credit_reviews_one_open_periodic ON credit_reviews (account_id)
    WHERE reason = 'periodic' AND status IN ('pending', 'escalated');

CREATE TABLE credit_holds (
    id uuid PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id),
    source text NOT NULL CHECK (source IN ('manual', 'automatic')),
    reason text NOT NULL,
    placed_by text NOT NULL,
    placed_at timestamptz NOT NULL,
    released_by text,
    released_at timestamptz,
    release_note text,
    version integer NOT NULL DEFAULT 1
);
CREATE INDEX credit_holds_account_idx ON credit_holds (account_id, id);
CREATE UNIQUE INDEX credit_holds_one_active ON credit_holds (account_id)
    WHERE released_at IS NULL;
