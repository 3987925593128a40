-- Monthly collection goals set by collection managers: for a collector (the subject their
-- portfolio names) or a team, a month and a currency, a target amount collected and/or a
-- target share of the balance past due at the month's end.
CREATE TABLE collection_goals (
    id                      uuid PRIMARY KEY,
    collector               text CHECK (length(collector) BETWEEN 1 AND 200),
    team                    text CHECK (length(team) BETWEEN 1 AND 200),
    -- The first day of the month.
    month                   date NOT NULL CHECK (extract(day FROM month) = 1),
    currency                text NOT NULL,
    target_collected        numeric CHECK (target_collected > 0),
    target_past_due_percent numeric CHECK (target_past_due_percent BETWEEN 0 AND 100),
    created_by              text NOT NULL,
    version                 integer NOT NULL DEFAULT 1,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    CONSTRAINT collection_goals_one_owner CHECK ((collector IS NULL) <> (team IS NULL)),
    CONSTRAINT collection_goals_some_target
        CHECK (target_collected IS NOT NULL OR target_past_due_percent IS NOT NULL)
);
CREATE UNIQUE INDEX collection_goals_collector_key ON collection_goals (collector, month, currency)
    WHERE collector IS NOT NULL;
CREATE UNIQUE INDEX collection_goals_team_key ON collection_goals (team, month, currency)
    WHERE team IS NOT NULL;
CREATE INDEX collection_goals_month_idx ON collection_goals (month);
