-- Signed-in browsers: keyed by the SHA-256 of the session id the cookie carries (never the
-- id itself); indexed by owner for "sign out everywhere" and by expiry for the purge.
CREATE TABLE sessions (
    hash       BYTEA  NOT NULL PRIMARY KEY CHECK (octet_length(hash) = 32),
    issuer     TEXT   NOT NULL,
    subject    TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    record     JSONB  NOT NULL
);
CREATE INDEX sessions_owner ON sessions (issuer, subject);
CREATE INDEX sessions_expiry ON sessions (expires_at);
