//! [`ReplayCache`]: one row per (issuer, namespace, id) that lives until `expires_at`.

use async_trait::async_trait;
use portcullis_core::{Issuer, TokenHash, UnixTime};
use portcullis_store::{ReplayCache, ReplayNamespace, ReplayOutcome, StoreResult};
use tokio_postgres::types::ToSql;

use crate::codec::key;
use crate::{purge, PostgresStore};

#[async_trait]
impl ReplayCache for PostgresStore {
    /// One `INSERT … ON CONFLICT DO UPDATE … WHERE expired RETURNING`: it inserts the id, or
    /// replaces an entry expired at `now`, and returns a row only when it did either.
    /// PostgreSQL makes the upsert atomic: a racer that meets the winner's row waits for its
    /// lock, then evaluates the `WHERE` on the row as the winner left it (live), and returns
    /// nothing — so exactly one caller wins, on any connection of any node. An id that
    /// arrives expired selects no row to insert.
    async fn check_and_insert(
        &self,
        issuer: &Issuer,
        namespace: ReplayNamespace,
        id: &TokenHash,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<ReplayOutcome> {
        let args: [&(dyn ToSql + Sync); 5] = [
            &issuer.as_str(),
            &namespace.as_str(),
            &key(id),
            &expires_at.secs_i64(),
            &now.secs_i64(),
        ];
        let stored = self
            .query(
                "INSERT INTO replay_cache (issuer, namespace, id, expires_at) \
                 SELECT $1::text, $2::text, $3::bytea, $4::bigint WHERE $4::bigint > $5::bigint \
                 ON CONFLICT (issuer, namespace, id) DO UPDATE \
                 SET expires_at = EXCLUDED.expires_at WHERE replay_cache.expires_at <= $5 \
                 RETURNING 1",
                &args,
            )
            .await?;
        Ok(match stored.first() {
            Some(_) => ReplayOutcome::Fresh,
            None => ReplayOutcome::Replayed,
        })
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        purge::expired(self, "replay_cache", "expires_at", now.secs_i64()).await
    }
}
