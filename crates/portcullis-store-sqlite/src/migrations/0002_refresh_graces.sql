-- Grace periods of rotated refresh tokens: the sealed answer that racers presenting the
-- rotated token get, how often, and until when. Keyed by the rotated token's hash.
CREATE TABLE refresh_graces (
    old_hash       BLOB NOT NULL PRIMARY KEY CHECK (length(old_hash) = 32),
    issuer         TEXT NOT NULL,
    successor_hash BLOB NOT NULL CHECK (length(successor_hash) = 32),
    sealed_answer  TEXT NOT NULL,
    until          INTEGER NOT NULL,
    max_claims     INTEGER NOT NULL,
    claims         INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;
CREATE INDEX refresh_graces_expiry ON refresh_graces (until);
