DROP TABLE credit_holds;
DROP TABLE credit_reviews;
ALTER TABLE accounts DROP COLUMN next_review_date;
