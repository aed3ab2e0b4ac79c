-- Pushed authorization requests (RFC 9126): keyed by the SHA-256 of the request_uri's random
-- part (never the reference itself); a row goes when it is taken, so it is used once.
CREATE TABLE pushed_requests (
    hash       BYTEA  NOT NULL PRIMARY KEY CHECK (octet_length(hash) = 32),
    issuer     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    record     JSONB  NOT NULL
);
CREATE INDEX pushed_requests_expiry ON pushed_requests (expires_at);
