-- The replay cache: single-use ids (interaction tickets; later client-assertion, DPoP-proof
-- and request-object `jti`s), each accepted once per (issuer, namespace) until `expires_at`.
-- `id` is a SHA-256 hash, never the secret itself.
CREATE TABLE replay_cache (
    issuer     TEXT    NOT NULL,
    namespace  TEXT    NOT NULL,
    id         BLOB    NOT NULL CHECK (length(id) = 32),
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, namespace, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX replay_cache_expiry ON replay_cache (expires_at);
