-- Where and how each invoice reached the customer, as front ends and partner portals report it.
CREATE TABLE invoice_presentments (
    id          uuid PRIMARY KEY,
    invoice_id  uuid NOT NULL REFERENCES invoices (id),
    account_id  uuid NOT NULL REFERENCES accounts (id),
    channel     text NOT NULL CHECK (channel IN ('email', 'mail', 'portal')),
    destination text NOT NULL,
    status      text NOT NULL CHECK (status IN ('sent', 'delivered', 'accepted', 'rejected')),
    reason      text CHECK (status <> 'rejected' OR reason IS NOT NULL),
    occurred_at timestamptz NOT NULL,
    posted_by   text NOT NULL,
    posted_role text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invoice_presentments_invoice_idx ON invoice_presentments (invoice_id, occurred_at, id);
