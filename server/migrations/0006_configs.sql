-- Configuration centre (issue "Configuration centre"): services, per-environment entries with
-- their history, signed config documents, service-scoped SDK keys, and the change-notification
-- outbox with its sinks. Same portable types as 0001 (TEXT, BIGINT, JSON as TEXT, ms times).

-- A service of a project (shared by its environments). Entries belong to one.
CREATE TABLE services (
    project     TEXT   NOT NULL REFERENCES projects (key),
    key         TEXT   NOT NULL,
    description TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (project, key)
);

-- The current state of each entry. raw/value: the authored text and its parse as JSON; for a
-- secret entry both hold "enc:v1:" + base64(nonce || ChaCha20-Poly1305 ciphertext) (see
-- burgee_server::configs::secrets). overrides: JSON list of ConfigOverride (values encrypted
-- likewise when secret). schema: JSON Schema text or NULL.
CREATE TABLE config_entries (
    project     TEXT   NOT NULL,
    environment TEXT   NOT NULL,
    service     TEXT   NOT NULL,
    key         TEXT   NOT NULL,
    format      TEXT   NOT NULL,
    raw         TEXT   NOT NULL,
    value       TEXT   NOT NULL,
    schema      TEXT,
    description TEXT   NOT NULL,
    secret      BIGINT NOT NULL,
    overrides   TEXT   NOT NULL,
    revision    BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT   NOT NULL,
    PRIMARY KEY (project, environment, service, key)
);

-- Every revision of every entry, never updated or deleted: entry is the JSON of the stored
-- entry after the write (secret values encrypted as above), NULL for a deletion.
CREATE TABLE config_history (
    project     TEXT   NOT NULL,
    environment TEXT   NOT NULL,
    service     TEXT   NOT NULL,
    key         TEXT   NOT NULL,
    revision    BIGINT NOT NULL,
    action      TEXT   NOT NULL,
    entry       TEXT,
    at          BIGINT NOT NULL,
    actor       TEXT   NOT NULL,
    PRIMARY KEY (project, environment, service, key, revision)
);

-- Every published config document (never updated or deleted, like snapshots). envelope: the
-- document with secrets (encrypted at rest as above when it holds any); client_envelope: the
-- same version without secret entries, served to every other reader.
CREATE TABLE config_documents (
    project         TEXT   NOT NULL,
    environment     TEXT   NOT NULL,
    service         TEXT   NOT NULL,
    version         BIGINT NOT NULL,
    digest          TEXT   NOT NULL,
    envelope        TEXT   NOT NULL,
    client_digest   TEXT   NOT NULL,
    client_envelope TEXT   NOT NULL,
    issued_at       BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    published_by    TEXT   NOT NULL,
    reason          TEXT   NOT NULL,
    PRIMARY KEY (project, environment, service, version)
);

-- An SDK key may be scoped to one service: it reads only that service's config document, and
-- (server-side keys only) its secrets.
ALTER TABLE tokens ADD COLUMN service TEXT;

-- Change notifications, written in the publish transaction (transactional outbox). id is the
-- de-duplication id every sink carries; seq orders delivery.
CREATE TABLE outbox (
    seq         BIGINT NOT NULL PRIMARY KEY,
    id          TEXT   NOT NULL UNIQUE,
    project     TEXT   NOT NULL,
    environment TEXT   NOT NULL,
    kind        TEXT   NOT NULL,
    event       TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);

-- How far each sink (nats, kafka, webhook:<id>) has delivered the outbox.
CREATE TABLE outbox_cursors (
    sink        TEXT   NOT NULL PRIMARY KEY,
    seq         BIGINT NOT NULL
);

-- HTTP webhooks of a project. secret: the HMAC-SHA256 key, encrypted like secret entries.
CREATE TABLE webhooks (
    id          TEXT   NOT NULL PRIMARY KEY,
    project     TEXT   NOT NULL REFERENCES projects (key),
    url         TEXT   NOT NULL,
    secret      TEXT   NOT NULL,
    kinds       TEXT   NOT NULL,
    enabled     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT   NOT NULL
);

-- Every delivery attempt of a webhook (the delivery log).
CREATE TABLE webhook_deliveries (
    webhook     TEXT   NOT NULL,
    event       TEXT   NOT NULL,
    attempt     BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    status      BIGINT,
    error       TEXT,
    delivered   BIGINT NOT NULL,
    PRIMARY KEY (webhook, event, attempt)
);
