-- Sign-ins with an OpenID provider in progress (issue "Admin console", item 2): one row per
-- started sign-in, taken (deleted) by its callback, refused after expires_at. The state and
-- the browser's flow cookie are stored only as SHA-256 hashes. Not backed up (like sessions).
CREATE TABLE oidc_flows (
    state_hash   TEXT   NOT NULL PRIMARY KEY,
    browser_hash TEXT   NOT NULL,
    verifier     TEXT   NOT NULL,
    nonce        TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);

CREATE INDEX oidc_flows_expiry ON oidc_flows (expires_at);
