-- Portcullis PostgreSQL schema, version 1.
-- Secrets appear only as SHA-256 hashes (BYTEA keys). Columns hold what is queried; `record`
-- holds the whole record as JSONB. Times are Unix seconds. The private keys of signing_keys
-- are stored as-is inside `record` (see the crate docs). Every lookup is by primary key or
-- by an index below; every purge scans an expiry index.

CREATE TABLE clients (
    issuer     TEXT   NOT NULL,
    client_id  TEXT   NOT NULL,
    expires_at BIGINT,
    record     JSONB  NOT NULL,
    PRIMARY KEY (issuer, client_id)
);
CREATE INDEX clients_expiry ON clients (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE codes (
    hash       BYTEA   NOT NULL PRIMARY KEY CHECK (octet_length(hash) = 32),
    issuer     TEXT    NOT NULL,
    grant_id   TEXT    NOT NULL,
    family_id  TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL,
    consumed   BOOLEAN NOT NULL DEFAULT false,
    record     JSONB   NOT NULL
);
CREATE INDEX codes_expiry ON codes (expires_at);

-- `revoked` is authoritative over the copy in `record` and never goes back to false.
CREATE TABLE grants (
    issuer     TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL,
    revoked    BOOLEAN NOT NULL,
    record     JSONB   NOT NULL,
    PRIMARY KEY (issuer, id)
);
CREATE INDEX grants_owner ON grants (issuer, subject, client_id);
CREATE INDEX grants_expiry ON grants (expires_at);

CREATE TABLE revoked_families (
    issuer    TEXT   NOT NULL,
    family_id TEXT   NOT NULL,
    until     BIGINT NOT NULL,
    PRIMARY KEY (issuer, family_id)
);
CREATE INDEX revoked_families_expiry ON revoked_families (until);

CREATE TABLE access_tokens (
    hash       BYTEA  NOT NULL PRIMARY KEY CHECK (octet_length(hash) = 32),
    issuer     TEXT   NOT NULL,
    grant_id   TEXT,
    family_id  TEXT,
    expires_at BIGINT NOT NULL,
    record     JSONB  NOT NULL
);
CREATE INDEX access_tokens_expiry ON access_tokens (expires_at);

CREATE TABLE refresh_tokens (
    hash       BYTEA   NOT NULL PRIMARY KEY CHECK (octet_length(hash) = 32),
    issuer     TEXT    NOT NULL,
    grant_id   TEXT    NOT NULL,
    family_id  TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL,
    rotated    BOOLEAN NOT NULL DEFAULT false,
    record     JSONB   NOT NULL
);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

CREATE TABLE signing_keys (
    issuer     TEXT   NOT NULL,
    kid        TEXT   NOT NULL,
    expires_at BIGINT,
    record     JSONB  NOT NULL,
    PRIMARY KEY (issuer, kid)
);
CREATE INDEX signing_keys_expiry ON signing_keys (expires_at) WHERE expires_at IS NOT NULL;
