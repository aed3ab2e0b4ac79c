-- Grace periods of rotated refresh tokens: the sealed answer that racers presenting the
-- rotated token get, how often, and until when. Keyed by the rotated token's hash.
CREATE TABLE refresh_graces (
    old_hash       BYTEA   NOT NULL PRIMARY KEY CHECK (octet_length(old_hash) = 32),
    issuer         TEXT    NOT NULL,
    successor_hash BYTEA   NOT NULL CHECK (octet_length(successor_hash) = 32),
    sealed_answer  TEXT    NOT NULL,
    until          BIGINT  NOT NULL,
    max_claims     INTEGER NOT NULL,
    claims         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX refresh_graces_expiry ON refresh_graces (until);
