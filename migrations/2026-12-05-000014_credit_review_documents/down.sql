DROP TABLE credit_review_documents;
