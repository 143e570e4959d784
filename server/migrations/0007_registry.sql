-- Service registry (issue "Service registry and discovery"): registered instances with their
-- health, a bounded health history, and the signed catalog documents of each environment.
-- Same portable types as 0001 (TEXT, BIGINT, JSON as TEXT, ms times).

-- One registered instance. kind: ephemeral (renews a lease by heartbeat) or persistent (probed
-- by the server). check: JSON of the active HTTP check or NULL. status: passing, warning or
-- critical; successes/failures: consecutive check rounds of each outcome. renewed_at: the last
-- heartbeat (ephemeral) as flushed by a replica (heartbeats are buffered in memory for up to a
-- second). draining: 1 when taken out of the catalog by an operator.
CREATE TABLE registry_instances (
    project      TEXT   NOT NULL,
    environment  TEXT   NOT NULL,
    service      TEXT   NOT NULL,
    instance_id  TEXT   NOT NULL,
    kind         TEXT   NOT NULL,
    scheme       TEXT   NOT NULL,
    address      TEXT   NOT NULL,
    port         BIGINT NOT NULL,
    weight       BIGINT NOT NULL,
    zone         TEXT,
    version      TEXT,
    metadata     TEXT   NOT NULL,
    lease_ms     BIGINT NOT NULL,
    check_spec   TEXT,
    status       TEXT   NOT NULL,
    reason       TEXT   NOT NULL,
    checked_at   BIGINT,
    successes    BIGINT NOT NULL,
    failures     BIGINT NOT NULL,
    draining     BIGINT NOT NULL,
    registered_at BIGINT NOT NULL,
    renewed_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (project, environment, service, instance_id)
);

-- Status changes of instances (the newest 50 per instance are kept).
CREATE TABLE registry_health_history (
    project      TEXT   NOT NULL,
    environment  TEXT   NOT NULL,
    service      TEXT   NOT NULL,
    instance_id  TEXT   NOT NULL,
    seq          BIGINT NOT NULL,
    at           BIGINT NOT NULL,
    status       TEXT   NOT NULL,
    reason       TEXT   NOT NULL,
    PRIMARY KEY (project, environment, service, instance_id, seq)
);

-- Every published catalog document (spec/CATALOG.md), never updated; one version sequence per
-- (project, environment).
CREATE TABLE catalog_documents (
    project      TEXT   NOT NULL,
    environment  TEXT   NOT NULL,
    version      BIGINT NOT NULL,
    digest       TEXT   NOT NULL,
    envelope     TEXT   NOT NULL,
    issued_at    BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    reason       TEXT   NOT NULL,
    PRIMARY KEY (project, environment, version)
);
