-- Portcullis SQLite schema, version 1.
-- Secrets appear only as SHA-256 hashes (BLOB keys). Columns hold what is queried; `record`
-- holds the whole record as JSON. Times are Unix seconds. The private keys of signing_keys
-- are stored as-is inside `record` (see the crate docs).

CREATE TABLE clients (
    issuer     TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    expires_at INTEGER,
    record     TEXT NOT NULL,
    PRIMARY KEY (issuer, client_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX clients_expiry ON clients (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE codes (
    hash       BLOB NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    issuer     TEXT NOT NULL,
    grant_id   TEXT NOT NULL,
    family_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    consumed   INTEGER NOT NULL DEFAULT 0,
    record     TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX codes_expiry ON codes (expires_at);

CREATE TABLE grants (
    issuer     TEXT NOT NULL,
    id         TEXT NOT NULL,
    subject    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked    INTEGER NOT NULL,
    record     TEXT NOT NULL,
    PRIMARY KEY (issuer, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX grants_owner ON grants (issuer, subject, client_id);
CREATE INDEX grants_expiry ON grants (expires_at);

CREATE TABLE revoked_families (
    issuer    TEXT NOT NULL,
    family_id TEXT NOT NULL,
    until     INTEGER NOT NULL,
    PRIMARY KEY (issuer, family_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX revoked_families_expiry ON revoked_families (until);

CREATE TABLE access_tokens (
    hash       BLOB NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    issuer     TEXT NOT NULL,
    grant_id   TEXT,
    family_id  TEXT,
    expires_at INTEGER NOT NULL,
    record     TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX access_tokens_expiry ON access_tokens (expires_at);

CREATE TABLE refresh_tokens (
    hash       BLOB NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    issuer     TEXT NOT NULL,
    grant_id   TEXT NOT NULL,
    family_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated    INTEGER NOT NULL DEFAULT 0,
    record     TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

CREATE TABLE signing_keys (
    issuer     TEXT NOT NULL,
    kid        TEXT NOT NULL,
    expires_at INTEGER,
    record     TEXT NOT NULL,
    PRIMARY KEY (issuer, kid)
) STRICT, WITHOUT ROWID;
CREATE INDEX signing_keys_expiry ON signing_keys (expires_at) WHERE expires_at IS NOT NULL;
