-- Burgee's store. Plain types (TEXT, BIGINT) so the same file runs on SQLite and PostgreSQL.
-- Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE environments (
    key        TEXT   NOT NULL PRIMARY KEY,
    project    TEXT   NOT NULL,
    salt       TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

-- definition: JSON text of burgee_core::model::FlagDef (its key equals the key column).
CREATE TABLE flags (
    environment TEXT   NOT NULL REFERENCES environments (key),
    key         TEXT   NOT NULL,
    definition  TEXT   NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (environment, key)
);

-- definition: JSON text of burgee_core::model::SegmentDef.
CREATE TABLE segments (
    environment TEXT   NOT NULL REFERENCES environments (key),
    key         TEXT   NOT NULL,
    definition  TEXT   NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (environment, key)
);

-- Every published snapshot; rows are never deleted, so versions are never reused.
-- envelope: the DSSE envelope JSON served to SDKs; digest: sha256:<hex> of its payload.
CREATE TABLE snapshots (
    environment TEXT   NOT NULL REFERENCES environments (key),
    version     BIGINT NOT NULL,
    digest      TEXT   NOT NULL,
    envelope    TEXT   NOT NULL,
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (environment, version)
);

-- API credentials, stored only as lowercase hex SHA-256 of the token text.
-- kind 'admin' (environment NULL) or 'sdk' (environment set).
CREATE TABLE tokens (
    hash        TEXT   NOT NULL PRIMARY KEY,
    kind        TEXT   NOT NULL CHECK (kind IN ('admin', 'sdk')),
    environment TEXT   REFERENCES environments (key),
    created_at  BIGINT NOT NULL,
    CHECK ((kind = 'admin' AND environment IS NULL) OR (kind = 'sdk' AND environment IS NOT NULL))
);
