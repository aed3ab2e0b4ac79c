//! [`ReplayCache`]: one row per (issuer, namespace, id) that lives until `expires_at`.

use async_trait::async_trait;
use portcullis_core::{Issuer, TokenHash, UnixTime};
use portcullis_store::{ReplayCache, ReplayNamespace, ReplayOutcome, StoreResult};
use rusqlite::{params, OptionalExtension};

use crate::codec::{db, key};
use crate::{purge, SqliteStore};

#[async_trait]
impl ReplayCache for SqliteStore {
    /// One upsert: it inserts the id, or replaces an entry expired at `now`, and returns a
    /// row only when it did either. A write statement holds the database's one write lock
    /// from its start, so of all concurrent callers, on any connection or process, exactly
    /// one finds the id absent or expired. An id that arrives expired selects no row to
    /// insert.
    async fn check_and_insert(
        &self,
        issuer: &Issuer,
        namespace: ReplayNamespace,
        id: &TokenHash,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<ReplayOutcome> {
        let (issuer, id) = (issuer.to_string(), key(id));
        let (expires_at, now) = (expires_at.secs_i64(), now.secs_i64());
        self.run(move |conn| {
            let stored: Option<i64> = conn
                .prepare_cached(
                    "INSERT INTO replay_cache (issuer, namespace, id, expires_at) \
                     SELECT ?1, ?2, ?3, ?4 WHERE ?4 > ?5 \
                     ON CONFLICT (issuer, namespace, id) DO UPDATE \
                     SET expires_at = excluded.expires_at WHERE replay_cache.expires_at <= ?5 \
                     RETURNING 1",
                )
                .and_then(|mut s| {
                    s.query_row(
                        params![issuer, namespace.as_str(), id, expires_at, now],
                        |r| r.get(0),
                    )
                    .optional()
                })
                .map_err(db)?;
            Ok(match stored {
                Some(_) => ReplayOutcome::Fresh,
                None => ReplayOutcome::Replayed,
            })
        })
        .await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        let now = now.secs_i64();
        self.run(move |conn| {
            purge::expired(
                conn,
                "replay_cache",
                "issuer, namespace, id",
                "expires_at",
                now,
            )
        })
        .await
    }
}
