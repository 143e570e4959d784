-- Events copied from the event log into the database (spec/EVENTS.md §4), one row per event.
-- Filled by the database event sink when the server runs on PostgreSQL; the primary key makes
-- re-delivery after a crash harmless.
CREATE TABLE events (
    project TEXT NOT NULL,
    environment TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    targeting_key TEXT NOT NULL,
    time BIGINT NOT NULL,
    flag TEXT,
    variant TEXT,
    metric TEXT,
    value DOUBLE PRECISION,
    received_at BIGINT NOT NULL,
    sdk TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (project, environment, batch_id, seq)
);
CREATE INDEX events_by_flag ON events (project, environment, flag, time);
CREATE INDEX events_by_metric ON events (project, environment, metric, time);
