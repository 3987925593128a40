-- The credit agency's report behind a review's external score, and any other paper the
-- analyst decides on, kept with the review under the same rules as contract documents.
CREATE TABLE credit_review_documents (
    id           uuid PRIMARY KEY,
    review_id    uuid NOT NULL REFERENCES credit_reviews (id),
    filename     text NOT NULL,
    content_type text NOT NULL CHECK (content_type IN ('application/pdf', 'image/png', 'image/jpeg', 'image/tiff')),
    size_bytes   bigint NOT NULL CHECK (size_bytes BETWEEN 1 AND 10485760),
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content      bytea NOT NULL,
    uploaded_by  text NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX credit_review_documents_review_idx ON credit_review_documents (review_id, id);
