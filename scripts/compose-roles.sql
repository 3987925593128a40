-- Run once by the PostgreSQL container of compose.yaml when it makes its cluster: the role the
-- service's queries run as, which owns nothing (README, "Database roles"). The migrations,
-- run as the database's owner `receivables`, grant it its rights.
CREATE ROLE receivables_service LOGIN PASSWORD 'receivables_service';
