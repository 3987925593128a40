-- Account numbers come from a sequence, as payment and dispute numbers do. They need not be
-- gapless (invoice numbers must be), and the counter row of `number_series`, locked until
-- commit, made every account creation wait for the one before it: CRM events opening
-- accounts queued behind each other.
CREATE SEQUENCE account_numbers;
SELECT setval('account_numbers', next_value - 1)
FROM number_series WHERE series = 'account' AND next_value > 1;
DELETE FROM number_series WHERE series = 'account';
