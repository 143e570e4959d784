-- Burgee's store. Portable types only (TEXT, BIGINT; booleans as BIGINT 0/1; JSON as TEXT) so
-- the same file runs on SQLite and PostgreSQL. Times are milliseconds since the Unix epoch (UTC).
-- `revision` columns count the writes of a row (1 at creation); the API's ETag is "r<revision>".

CREATE TABLE projects (
    key         TEXT   NOT NULL PRIMARY KEY,
    name        TEXT   NOT NULL,
    description TEXT   NOT NULL,
    revision    BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- protected = 1: writes need the publisher role (production is protected by default).
-- key_name: the signing key's file name in the keys directory (see burgee_server::keys).
CREATE TABLE environments (
    project     TEXT   NOT NULL REFERENCES projects (key),
    key         TEXT   NOT NULL,
    name        TEXT   NOT NULL,
    salt        TEXT   NOT NULL,
    key_name    TEXT   NOT NULL,
    protected   BIGINT NOT NULL,
    revision    BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (project, key)
);

-- definition: JSON of burgee_server::model::FlagSpec (type, variants, description, tags, owner, schema).
CREATE TABLE flags (
    project     TEXT   NOT NULL REFERENCES projects (key),
    key         TEXT   NOT NULL,
    definition  TEXT   NOT NULL,
    revision    BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (project, key)
);

-- targeting: JSON of burgee_server::model::Targeting for one flag in one environment.
CREATE TABLE flag_targeting (
    project     TEXT   NOT NULL,
    environment TEXT   NOT NULL,
    flag        TEXT   NOT NULL,
    targeting   TEXT   NOT NULL,
    revision    BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (project, environment, flag)
);

-- definition: JSON of burgee_core::model::SegmentDef.
CREATE TABLE segments (
    project     TEXT   NOT NULL,
    environment TEXT   NOT NULL,
    key         TEXT   NOT NULL,
    definition  TEXT   NOT NULL,
    revision    BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (project, environment, key)
);

-- Every published snapshot. Rows are never deleted or updated (not even with their
-- environment), so versions are never reused. envelope: DSSE JSON as served.
CREATE TABLE snapshots (
    project     TEXT   NOT NULL,
    environment TEXT   NOT NULL,
    version     BIGINT NOT NULL,
    digest      TEXT   NOT NULL,
    envelope    TEXT   NOT NULL,
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    published_by TEXT  NOT NULL,
    reason      TEXT   NOT NULL,
    PRIMARY KEY (project, environment, version)
);

-- Credentials, stored only as lowercase hex SHA-256 of the token text.
-- kind 'admin': role viewer|editor|publisher|admin, project NULL = every project.
-- kind 'sdk': project and environment set, role NULL.
CREATE TABLE tokens (
    hash        TEXT   NOT NULL PRIMARY KEY,
    id          TEXT   NOT NULL UNIQUE,
    kind        TEXT   NOT NULL,
    name        TEXT   NOT NULL,
    role        TEXT,
    project     TEXT,
    environment TEXT,
    created_at  BIGINT NOT NULL,
    created_by  TEXT   NOT NULL,
    revoked_at  BIGINT
);

-- Hash-chained audit log: hash = sha256(prev_hash, canonical JSON of the other columns);
-- see burgee_server::audit. before/after: JSON text or NULL.
CREATE TABLE audit_log (
    seq         BIGINT NOT NULL PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT   NOT NULL,
    action      TEXT   NOT NULL,
    project     TEXT,
    environment TEXT,
    resource    TEXT   NOT NULL,
    before      TEXT,
    after       TEXT,
    prev_hash   TEXT   NOT NULL,
    hash        TEXT   NOT NULL
);

-- One row: the head of the audit chain. Every write transaction updates it first, which
-- serialises writers across processes on both databases (row lock / SQLite write lock).
CREATE TABLE chain_head (
    id          BIGINT NOT NULL PRIMARY KEY,
    seq         BIGINT NOT NULL,
    hash        TEXT   NOT NULL
);
INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
