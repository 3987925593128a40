-- Scheduled reports: a report with its parameters and format, built monthly on a day (the
-- month's last day when it has fewer) or weekly on a weekday, and sent to chosen webhook
-- endpoints (or to no one: the file is kept either way).
CREATE TABLE report_schedules (
    id           uuid        PRIMARY KEY,
    report       text        NOT NULL,
    -- The report's query parameters by name, as text (`{"min_days": "90"}`).
    parameters   jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(parameters) = 'object'),
    format       text        NOT NULL CHECK (format IN ('json', 'csv', 'xlsx')),
    cadence      text        NOT NULL CHECK (cadence IN ('monthly', 'weekly')),
    day_of_month integer     CHECK (day_of_month BETWEEN 1 AND 31),
    weekday      text        CHECK (weekday IN ('monday', 'tuesday', 'wednesday', 'thursday',
                                                'friday', 'saturday', 'sunday')),
    -- Webhook endpoints the `report.ready` event goes to; empty: none.
    recipients   uuid[]      NOT NULL DEFAULT '{}',
    description  text,
    active       boolean     NOT NULL DEFAULT true,
    created_by   text        NOT NULL,
    version      integer     NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    CONSTRAINT report_schedules_cadence_day CHECK (
        (cadence = 'monthly' AND day_of_month IS NOT NULL AND weekday IS NULL)
        OR (cadence = 'weekly' AND weekday IS NOT NULL AND day_of_month IS NULL))
);
CREATE INDEX report_schedules_active_idx ON report_schedules (id) WHERE active;

-- One run of a schedule for one date. The unique key is what makes a run happen once per
-- schedule and date however many instances run the job: an instance claims the date by
-- inserting the row as `running` (ON CONFLICT DO NOTHING: another instance's claim makes it
-- skip, or wait until that claim commits or rolls back), builds the file and stores it in
-- the same transaction; so `running` is never seen committed, and a crash leaves no claim.
CREATE TABLE report_runs (
    id           uuid        PRIMARY KEY,
    schedule_id  uuid        NOT NULL REFERENCES report_schedules (id),
    run_date     date        NOT NULL,
    report       text        NOT NULL,
    parameters   jsonb       NOT NULL,
    format       text        NOT NULL CHECK (format IN ('json', 'csv', 'xlsx')),
    status       text        NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    content      bytea,
    content_type text,
    file_name    text,
    size_bytes   bigint,
    error        text,
    -- The `report.ready` event written with the run.
    event_id     uuid,
    created_at   timestamptz NOT NULL,
    CONSTRAINT report_runs_schedule_date_key UNIQUE (schedule_id, run_date),
    CONSTRAINT report_runs_outcome CHECK (
        (status = 'running' AND content IS NULL AND error IS NULL)
        OR (status = 'succeeded' AND content IS NOT NULL AND error IS NULL)
        OR (status = 'failed' AND content IS NULL AND error IS NOT NULL))
);
CREATE INDEX report_runs_schedule_idx ON report_runs (schedule_id, id);
