-- People who sign in to the console (issue "Admin console"): local users with argon2id
-- password hashes (PHC strings), and sessions. A session belongs to a user or, when an API
-- token was exchanged for it, to that token (revoking the token ends the session). Session
-- secrets are stored only as SHA-256 hashes, like tokens.
CREATE TABLE users (
    id            TEXT   NOT NULL PRIMARY KEY,
    email         TEXT   NOT NULL UNIQUE,
    name          TEXT   NOT NULL,
    password_hash TEXT,
    role          TEXT   NOT NULL,
    project       TEXT,
    created_at    BIGINT NOT NULL,
    created_by    TEXT   NOT NULL,
    disabled_at   BIGINT
);

CREATE TABLE sessions (
    hash        TEXT   NOT NULL PRIMARY KEY,
    user_id     TEXT,
    token_hash  TEXT,
    csrf_token  TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE INDEX sessions_user ON sessions (user_id);
