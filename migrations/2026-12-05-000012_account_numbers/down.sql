INSERT INTO number_series (series, next_value)
SELECT 'account', last_value + 1 FROM account_numbers WHERE is_called;
DROP SEQUENCE account_numbers;
