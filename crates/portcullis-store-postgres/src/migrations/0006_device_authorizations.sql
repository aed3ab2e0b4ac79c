-- Device authorizations (RFC 8628): keyed by the SHA-256 of the device code, found by the
-- SHA-256 of the user code (never the codes themselves); a row goes when its approval is
-- taken, so a device code is redeemed once.
CREATE TABLE device_authorizations (
    hash           BYTEA  NOT NULL PRIMARY KEY CHECK (octet_length(hash) = 32),
    user_code_hash BYTEA  NOT NULL UNIQUE CHECK (octet_length(user_code_hash) = 32),
    issuer         TEXT   NOT NULL,
    expires_at     BIGINT NOT NULL,
    record         JSONB  NOT NULL
);
CREATE INDEX device_authorizations_expiry ON device_authorizations (expires_at);
